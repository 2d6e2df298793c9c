"""Connections by lane (shared/db/lanes.py), written once, run against the in-memory pool and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from shared.db.connect import create_pool
from shared.db.fakes import FakeConnectionPool
from shared.db.lanes import LaneLimits, LanePool, lane_pools
from shared.db.outbox_store import AsyncpgOutboxStore
from shared.db.uow import AsyncpgUnitOfWork, SharedTransaction
from shared.messaging.names import BULK, LANE_PRIORITY, ROUTINE, URGENT
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.relay import ALL_BUT_URGENT, URGENT_ONLY

pytestmark = pytest.mark.integration
LIMITS = LaneLimits(size=5, reserved_for_urgent=2, bulk=1)


@pytest.fixture
async def real_lanes(pool: asyncpg.Pool, postgres_url: str, database_prefix: str) -> AsyncIterator[dict[str | None, LanePool]]:
    sized = await create_pool(postgres_url, f"{database_prefix}hub", max_size=LIMITS.size)
    try:
        yield lane_pools(sized, LIMITS)
    finally:
        sized.terminate()  # a failed test may leave connections out: close() would wait for them


@pytest.fixture(params=["fake", "postgres"])
def lanes(request) -> dict[str | None, LanePool]:
    if request.param == "fake":
        return lane_pools(FakeConnectionPool(LIMITS.size), LIMITS)
    return request.getfixturevalue("real_lanes")


async def still_waiting(acquiring: asyncio.Task) -> bool:
    """True when the acquire has not completed after the event loop had ample time to complete it."""
    done, _ = await asyncio.wait({acquiring}, timeout=0.3)
    return not done


async def test_routine_and_bulk_work_never_take_the_connections_kept_for_alerts(lanes):
    held = [await lanes[ROUTINE].acquire() for _ in range(LIMITS.lower)]
    routine = asyncio.create_task(lanes[ROUTINE].acquire())
    bulk = asyncio.create_task(lanes[BULK].acquire())
    assert await still_waiting(routine) and await still_waiting(bulk)

    alert = [await asyncio.wait_for(lanes[URGENT].acquire(), 5) for _ in range(LIMITS.reserved_for_urgent)]

    await lanes[ROUTINE].release(held.pop())
    done, waiting = await asyncio.wait({routine, bulk}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1, "one freed routine connection lets exactly one lower-lane acquire through"
    (other,) = waiting
    assert await still_waiting(other)
    other.cancel()
    for connection in alert:
        await lanes[URGENT].release(connection)
    for connection in held:
        await lanes[ROUTINE].release(connection)
    (through,) = done
    await (lanes[ROUTINE] if through is routine else lanes[BULK]).release(through.result())


async def test_bulk_work_holds_at_most_its_own_share_and_leaves_routine_work_the_rest(lanes):
    first = await lanes[BULK].acquire()
    second = asyncio.create_task(lanes[BULK].acquire())
    assert await still_waiting(second)

    routine = [await asyncio.wait_for(lanes[ROUTINE].acquire(), 5) for _ in range(LIMITS.lower - LIMITS.bulk)]

    await lanes[BULK].release(first)
    again = await asyncio.wait_for(second, 5)
    await lanes[BULK].release(again)
    for connection in routine:
        await lanes[ROUTINE].release(connection)


async def test_a_wait_given_up_gives_its_place_back(lanes):
    held = [await lanes[ROUTINE].acquire() for _ in range(LIMITS.lower)]
    for _ in range(3):
        waiting = asyncio.create_task(lanes[BULK].acquire())
        assert await still_waiting(waiting)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    for connection in held:
        await lanes[ROUTINE].release(connection)

    bulk = await asyncio.wait_for(lanes[BULK].acquire(), 5)
    routine = [await asyncio.wait_for(lanes[ROUTINE].acquire(), 5) for _ in range(LIMITS.lower - LIMITS.bulk)]
    await lanes[BULK].release(bulk)
    for connection in routine:
        await lanes[ROUTINE].release(connection)


async def test_units_of_work_of_any_lane_join_a_batch_s_transaction_on_the_same_pool(real_lanes):
    async with SharedTransaction(real_lanes[ROUTINE]):
        async with AsyncpgUnitOfWork(real_lanes[ROUTINE], lambda c: c) as first:
            in_batch = await first.store.fetchval("SELECT txid_current()")
        async with AsyncpgUnitOfWork(real_lanes[None], lambda c: c) as second:
            assert await second.store.fetchval("SELECT txid_current()") == in_batch


async def test_a_relay_round_below_the_urgent_lane_waits_for_a_lower_lane_connection_and_an_urgent_round_does_not(
    real_lanes,
):
    store = AsyncpgOutboxStore(real_lanes[None].pool, lower_lanes=real_lanes[ROUTINE])
    async with AsyncpgUnitOfWork(real_lanes[None], lambda c: c) as uow:
        for lane in (URGENT, ROUTINE):
            uow.outbox.add(OutgoingMessage(exchange="pcms.delivery", routing_key=f"lanes.{lane}", body=b"{}",
                                           type="pcms.message", message_id=str(uuid4()), priority=LANE_PRIORITY[lane]))
    held = [await real_lanes[ROUTINE].acquire() for _ in range(LIMITS.lower)]

    async def round_of(priorities: tuple[int, int]) -> list[str]:
        async with store.take(10, priorities=priorities) as batch:
            return [message.routing_key for _, message in batch.rows]

    routine_round = asyncio.create_task(round_of(ALL_BUT_URGENT))
    assert await still_waiting(routine_round)
    assert await asyncio.wait_for(round_of(URGENT_ONLY), 5) == ["lanes.urgent"]

    await real_lanes[ROUTINE].release(held.pop())
    assert await asyncio.wait_for(routine_round, 5) == ["lanes.routine"]
    for connection in held:
        await real_lanes[ROUTINE].release(connection)


async def test_a_commit_tells_the_relay_the_priorities_and_types_of_its_rows_alone_and_at_the_end_of_a_batch(real_lanes):
    woken: list[set[tuple[int, str]]] = []

    def a_unit(lane: str) -> AsyncpgUnitOfWork:
        return AsyncpgUnitOfWork(real_lanes[lane], lambda c: c, wake_relay=woken.append, priority=LANE_PRIORITY[lane])

    def a_row(priority: int = 0, type_: str = "pcms.message") -> OutgoingMessage:
        return OutgoingMessage(exchange="pcms.delivery", routing_key="ML.routine", body=b"{}", type=type_,
                               message_id=str(uuid4()), priority=priority)

    async with a_unit(URGENT) as alone:
        alone.outbox.add(a_row())
    async with a_unit(URGENT):
        pass
    assert woken == [{(LANE_PRIORITY[URGENT], "pcms.message")}], "a commit without rows wakes nothing"

    async with SharedTransaction(real_lanes[ROUTINE]):
        for priority in (0, LANE_PRIORITY[BULK]):
            async with a_unit(ROUTINE) as in_batch:
                in_batch.outbox.add(a_row(priority))
                in_batch.outbox.add(a_row(priority, "pcms.hop_recorded"))
        assert len(woken) == 1, "nothing is woken before the batch commits"
    assert woken[1] == {(LANE_PRIORITY[lane], type_) for lane in (ROUTINE, BULK)
                        for type_ in ("pcms.message", "pcms.hop_recorded")}
