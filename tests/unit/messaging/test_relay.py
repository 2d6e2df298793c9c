"""The outbox relay's rounds, over the in-memory outbox (the store's own tests: tests/integration/test_outbox_store.py)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from shared.messaging import names
from shared.messaging.fakes import FakeOutboxStore, FakePublisher
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.relay import ALL_BUT_URGENT, URGENT_ONLY, OutboxRelay

pytestmark = pytest.mark.unit
URGENT, ROUTINE = names.LANE_PRIORITY[names.URGENT], names.LANE_PRIORITY[names.ROUTINE]
NEVER = 3600.0


def a_row(priority: int, message_id: str, type_: str = "MessageDispatched") -> OutgoingMessage:
    return OutgoingMessage(exchange="pcms.delivery", routing_key="ML.urgent", body=b"{}", type=type_,
                           message_id=message_id, priority=priority)


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), seconds)


@asynccontextmanager
async def running_relay(
    after_sent: Callable[[OutgoingMessage], list[OutgoingMessage]] = lambda _: [],
) -> AsyncIterator[tuple[FakeOutboxStore, FakePublisher, OutboxRelay]]:
    """A relay that never polls, its loops past their first rounds (one empty take of each band, forgotten)."""
    store, publisher = FakeOutboxStore(), FakePublisher()
    relay = OutboxRelay(store, publisher, batch_size=50, poll_seconds=NEVER, after_sent=after_sent)
    task = asyncio.create_task(relay.run())
    await until(lambda: {URGENT_ONLY, ALL_BUT_URGENT} <= set(store.takes))
    await asyncio.sleep(0.01)
    store.takes.clear()
    try:
        yield store, publisher, relay
    finally:
        task.cancel()


def commit(store: FakeOutboxStore, relay: OutboxRelay, *rows: OutgoingMessage) -> None:
    """What a unit of work does: its rows are in the outbox, then the relay is told their priorities."""
    store.add(*rows)
    relay.wake({row.priority for row in rows})


async def test_a_commit_of_urgent_rows_wakes_the_urgent_round_only() -> None:
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert-copy"))
        await until(lambda: len(publisher.published) == 1)
        await asyncio.sleep(0.01)

        assert store.takes == [URGENT_ONLY]


async def test_a_commit_of_rows_of_both_bands_wakes_both_rounds_and_a_wake_naming_none_wakes_every_round() -> None:
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert-copy"), a_row(ROUTINE, "receipt"))
        await until(lambda: len(publisher.published) == 2)
        relay.wake()
        await until(lambda: len(store.takes) == 4)

        assert sorted(store.takes) == sorted([URGENT_ONLY, ALL_BUT_URGENT] * 2)


async def test_a_follow_up_row_written_by_a_round_goes_out_with_the_next_round_not_in_a_round_of_its_own() -> None:
    """The published hops of an alert's round would otherwise cost a round that the next alert waits behind."""
    def published_hop(sent: OutgoingMessage) -> list[OutgoingMessage]:
        return [a_row(sent.priority, f"published:{sent.message_id}", "HopRecorded")] if sent.type != "HopRecorded" else []

    async with running_relay(published_hop) as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "first-alert"))
        await until(lambda: len(publisher.published) == 1)
        await asyncio.sleep(0.05)
        assert store.takes == [URGENT_ONLY]

        commit(store, relay, a_row(URGENT, "second-alert"))
        await until(lambda: len(publisher.published) == 3)
        assert [m.message_id for m in publisher.published] == ["first-alert", "published:first-alert", "second-alert"]


async def test_a_round_of_urgent_rows_takes_its_own_size_and_a_round_of_the_lanes_below_theirs() -> None:
    store = FakeOutboxStore()
    relay = OutboxRelay(store, FakePublisher(), batch_size=1, lower_batch_size=3, poll_seconds=NEVER)
    store.add(*(a_row(URGENT, f"alert-{i}") for i in range(3)), *(a_row(ROUTINE, f"record-{i}") for i in range(4)))

    assert await relay.relay_once(URGENT_ONLY) == 1
    assert await relay.relay_once(ALL_BUT_URGENT) == 3
