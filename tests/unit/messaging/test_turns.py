"""Urgent first inside a process: lower lanes wait while a higher lane is being handled."""

import asyncio

import pytest

from shared.messaging import names
from shared.messaging.turns import LaneTurns, lane_of_queue

pytestmark = pytest.mark.unit


def test_the_lane_of_a_queue_is_its_last_word_when_it_is_a_lane() -> None:
    assert lane_of_queue(names.hub_ingress_queue("NE", names.URGENT)) == names.URGENT
    assert lane_of_queue(names.hub_routing_queue(names.ROUTINE)) == names.ROUTINE
    assert lane_of_queue(names.inbox_queue("ML", names.BULK)) == names.BULK
    assert lane_of_queue(names.unlaned_audit_queue("HUB")) is None


async def test_a_routine_message_waits_until_no_urgent_one_is_being_handled() -> None:
    turns, order = LaneTurns(), []
    urgent_may_finish = asyncio.Event()

    async def urgent() -> None:
        async with turns.turn(names.URGENT):
            order.append("urgent started")
            await urgent_may_finish.wait()
            order.append("urgent done")

    async def routine() -> None:
        async with turns.turn(names.ROUTINE):
            order.append("routine started")

    first = asyncio.ensure_future(urgent())
    await asyncio.sleep(0)
    second = asyncio.ensure_future(routine())
    await asyncio.sleep(0.01)
    assert order == ["urgent started"] and turns.in_flight(names.URGENT) == 1
    urgent_may_finish.set()
    await asyncio.gather(first, second)
    assert order == ["urgent started", "urgent done", "routine started"]
    assert turns.in_flight(names.URGENT) == turns.in_flight(names.ROUTINE) == 0


async def test_bulk_waits_for_routine_but_urgent_never_waits_for_lower_lanes() -> None:
    turns = LaneTurns()
    routine_may_finish = asyncio.Event()
    started = []

    async def hold(lane: str, until: asyncio.Event | None = None) -> None:
        async with turns.turn(lane):
            started.append(lane)
            if until is not None:
                await until.wait()

    routine = asyncio.ensure_future(hold(names.ROUTINE, routine_may_finish))
    await asyncio.sleep(0)
    bulk = asyncio.ensure_future(hold(names.BULK))
    await asyncio.wait_for(hold(names.URGENT), timeout=1)
    await asyncio.sleep(0.01)
    assert started == [names.ROUTINE, names.URGENT]
    routine_may_finish.set()
    await asyncio.gather(routine, bulk)
    assert started == [names.ROUTINE, names.URGENT, names.BULK]


async def test_queues_without_a_lane_never_wait() -> None:
    turns = LaneTurns()
    async with turns.turn(names.URGENT):
        await asyncio.wait_for(_enter(turns, None), timeout=1)


async def _enter(turns: LaneTurns, lane: str | None) -> None:
    async with turns.turn(lane):
        pass
