"""The outbox relay's rounds, over the in-memory outbox (the store's own tests: tests/integration/test_outbox_store.py)."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

import orjson

from shared.contracts.registry import (
    BATCH_RELAYED, HOP_RECORDED, HOPS_RECORDED, MATCH_FOUND, MESSAGE_DISPATCHED, ROUTING_DECIDED,
)
from shared.messaging import names
from shared.messaging.fakes import FakeOutboxStore, FakePublisher
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.relay import ALL_BUT_URGENT, ALL_PRIORITIES, URGENT_ONLY, OutboxRelay, Rows

pytestmark = pytest.mark.unit
URGENT, ROUTINE = names.LANE_PRIORITY[names.URGENT], names.LANE_PRIORITY[names.ROUTINE]
NEVER = 3600.0
URGENT_PROMPT, LOWER_PROMPT = (URGENT_ONLY, Rows.PROMPT), (ALL_BUT_URGENT, Rows.PROMPT)
LINGERING = (ALL_PRIORITIES, Rows.LINGERING)


def a_row(priority: int, message_id: str, type_: str = "MessageDispatched") -> OutgoingMessage:
    return OutgoingMessage(exchange="pcms.delivery", routing_key="ML.urgent", body=b"{}", type=type_,
                           message_id=message_id, priority=priority)


def a_hop(priority: int, message_id: str, hop: str) -> OutgoingMessage:
    body = orjson.dumps({"message_id": message_id, "hop": hop})
    return OutgoingMessage(exchange="pcms.audit", routing_key=f"audit.{hop}", body=body, type=HOP_RECORDED,
                           message_id=f"{hop}:{message_id}", priority=priority)


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), seconds)


@asynccontextmanager
async def running_relay(
    after_sent: Callable[[OutgoingMessage], list[OutgoingMessage]] = lambda _: [], linger_seconds: float = 0.0,
) -> AsyncIterator[tuple[FakeOutboxStore, FakePublisher, OutboxRelay]]:
    """A relay that never polls, its loops past their first rounds (one empty take of each band, forgotten)."""
    store, publisher = FakeOutboxStore(), FakePublisher()
    relay = OutboxRelay(store, publisher, batch_size=50, poll_seconds=NEVER, after_sent=after_sent, max_batch_items=100,
                        linger_seconds=linger_seconds)
    task = asyncio.create_task(relay.run())
    await until(lambda: {URGENT_PROMPT, LOWER_PROMPT, LINGERING} <= set(store.takes))
    await until(lambda: relay.publishes_at_once(a_row(URGENT, "probe")))
    await asyncio.sleep(0.01)
    store.takes.clear()
    try:
        yield store, publisher, relay
    finally:
        task.cancel()


def commit(store: FakeOutboxStore, relay: OutboxRelay, *rows: OutgoingMessage) -> None:
    """What a unit of work does (AsyncpgUnitOfWork): its rows go into the outbox, those the relay publishes at once
    leased; then the relay is handed those and told the priorities and types of the others."""
    at_once = [relay.publishes_at_once(row) for row in rows]
    ids = [store.add(row, leased_by=relay.lessee if leased else None)[0] for row, leased in zip(rows, at_once)]
    relay.committed([(row_id, row) for row_id, row, leased in zip(ids, rows, at_once) if leased],
                    {(row.priority, row.type) for row, leased in zip(rows, at_once) if not leased})


async def test_a_committed_urgent_message_is_published_at_once_and_marked_sent_without_a_round() -> None:
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert-copy"))
        await until(lambda: [m.message_id for m in store.sent] == ["alert-copy"])
        await asyncio.sleep(0.01)

        assert [m.message_id for m in publisher.published] == ["alert-copy"]
        assert store.takes == []


async def test_messages_committed_before_the_relay_gets_to_them_leave_joined_in_one_publication() -> None:
    async with running_relay() as (store, publisher, relay):
        for alert in ("first", "second", "third"):
            commit(store, relay, a_row(URGENT, alert, MESSAGE_DISPATCHED))
        await until(lambda: len(store.sent) == 3)

        (joined,) = publisher.published
        assert joined.type == BATCH_RELAYED
        assert [item["message_id"] for item in orjson.loads(joined.body)["items"]] == ["first", "second", "third"]


async def test_before_it_runs_a_relay_publishes_nothing_at_once_so_a_round_takes_every_row() -> None:
    relay = OutboxRelay(FakeOutboxStore(), FakePublisher(), batch_size=50, poll_seconds=NEVER)

    assert not relay.publishes_at_once(a_row(URGENT, "alert"))


async def test_only_urgent_messages_are_published_at_once_not_their_hops_nor_the_lanes_below() -> None:
    async with running_relay() as (_, _, relay):
        assert relay.publishes_at_once(a_row(URGENT, "alert"))
        assert not relay.publishes_at_once(a_hop(URGENT, "alert", "routed"))
        assert not relay.publishes_at_once(a_row(URGENT, "decided", ROUTING_DECIDED))
        assert not relay.publishes_at_once(a_row(ROUTINE, "receipt"))


async def test_a_message_the_broker_refused_at_once_waits_then_a_round_publishes_it() -> None:
    async with running_relay() as (store, publisher, relay):
        publisher.fail_next = ConnectionError("channel closed")
        commit(store, relay, a_row(URGENT, "alert"))
        (row,) = store.rows.values()
        await until(lambda: row.attempts == 1)

        assert row.sent_at is None and row.last_error == "ConnectionError: channel closed"
        row.next_attempt_at = 0.0  # its wait is over
        assert await relay.relay_once(*URGENT_PROMPT) == 1
        assert [m.message_id for m in publisher.published] == ["alert"] and store.sent == [row.message]


async def test_the_published_hop_of_a_message_published_at_once_comes_with_its_mark_and_wakes_only_the_lingering_round(
) -> None:
    def published_hop(sent: OutgoingMessage) -> list[OutgoingMessage]:
        return [a_hop(sent.priority, sent.message_id, "published")] if sent.type != HOP_RECORDED else []

    async with running_relay(published_hop) as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert"))
        await until(lambda: len(publisher.published) == 2)
        await asyncio.sleep(0.01)

        assert publisher.published[1].message_id == "published:alert"
        assert store.takes == [LINGERING]


async def test_a_mark_that_fails_is_tried_again_and_its_rows_stay_leased_meanwhile() -> None:
    class MarksFailOnce(FakeOutboxStore):
        failed_marks = 0

        async def settle(self, sent, follow_ups, failed) -> None:  # noqa: ANN001
            if not self.failed_marks:
                self.failed_marks += 1
                raise ConnectionError("the database went away")
            await super().settle(sent, follow_ups, failed)

    store, publisher = MarksFailOnce(), FakePublisher()
    relay = OutboxRelay(store, publisher, batch_size=50, poll_seconds=NEVER)
    task = asyncio.create_task(relay.run())
    try:
        await until(lambda: relay.publishes_at_once(a_row(URGENT, "probe")))
        commit(store, relay, a_row(URGENT, "alert"))
        await until(lambda: store.failed_marks == 1)
        (row,) = store.rows.values()
        assert row.sent_at is None and row.next_attempt_at > time.monotonic()
        await until(lambda: row.sent_at is not None)

        assert [m.message_id for m in publisher.published] == ["alert"]
    finally:
        task.cancel()


async def test_a_relay_that_starts_releases_the_rows_left_leased_to_its_service_and_publishes_them_not_others() -> None:
    store, publisher = FakeOutboxStore(), FakePublisher()
    store.add(a_row(URGENT, "left-by-a-stopped-routing"), leased_by="routing")
    store.add(a_row(URGENT, "in-flight-at-the-enrichment"), leased_by="enrichment")
    relay = OutboxRelay(store, publisher, batch_size=50, poll_seconds=NEVER, lessee="routing")
    async with store.take(50) as batch:
        assert batch.rows == [], "a leased row is given to no take"
    task = asyncio.create_task(relay.run())
    try:
        await until(lambda: len(store.sent) == 1)
        await asyncio.sleep(0.01)

        assert [m.message_id for m in publisher.published] == ["left-by-a-stopped-routing"]
    finally:
        task.cancel()


async def test_a_commit_of_a_hop_alone_wakes_the_lingering_round_only() -> None:
    """Most commits of a recipient hold only its delivered hop: a prompt round would find nothing to take."""
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_hop(URGENT, "alert", "delivered"))
        await until(lambda: len(publisher.published) == 1)
        await asyncio.sleep(0.01)

        assert store.takes == [LINGERING]


async def test_a_commit_wakes_the_rounds_of_the_rows_not_published_at_once_and_a_wake_naming_none_wakes_every_round() -> None:
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert-copy"), a_row(ROUTINE, "receipt"), a_hop(URGENT, "alert", "routed"))
        await until(lambda: len(publisher.published) == 3)
        await until(lambda: len(store.takes) == 2)
        relay.wake()
        await until(lambda: len(store.takes) == 5)

        assert sorted(store.takes) == sorted([LOWER_PROMPT, LINGERING] * 2 + [URGENT_PROMPT])


async def test_hops_committed_while_the_hops_round_lingers_leave_joined_in_one_message() -> None:
    async with running_relay(linger_seconds=0.1) as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "first-alert"), a_hop(URGENT, "first-alert", "routed"))
        await until(lambda: len(publisher.published) == 1)
        commit(store, relay, a_row(URGENT, "second-alert"), a_hop(URGENT, "second-alert", "routed"))
        await until(lambda: len(publisher.published) == 3)

        alerts, (hops,) = publisher.published[:2], publisher.published[2:]
        assert [m.message_id for m in alerts] == ["first-alert", "second-alert"]
        assert hops.type == HOPS_RECORDED and hops.routing_key == "audit.urgent.hops"
        assert [hop["message_id"] for hop in orjson.loads(hops.body)["hops"]] == ["first-alert", "second-alert"]


async def test_routing_decisions_and_hit_notices_for_one_platform_linger_and_leave_joined_the_copies_at_once() -> None:
    async with running_relay(linger_seconds=0.1) as (store, publisher, relay):
        for alert in ("first-alert", "second-alert"):
            commit(store, relay, a_row(URGENT, f"copy:{alert}"), a_row(URGENT, f"decided:{alert}", ROUTING_DECIDED),
                   a_row(URGENT, f"hit:{alert}", MATCH_FOUND))
        await until(lambda: len(publisher.published) == 4)

        copies, notices = publisher.published[:2], publisher.published[2:]
        assert [m.message_id for m in copies] == ["copy:first-alert", "copy:second-alert"]
        assert {m.type for m in notices} == {BATCH_RELAYED}
        assert sorted(orjson.loads(m.body)["item_type"] for m in notices) == [MATCH_FOUND, ROUTING_DECIDED]
        assert all(len(orjson.loads(m.body)["items"]) == 2 for m in notices)


async def test_a_message_never_waits_for_the_lingering_round() -> None:
    async with running_relay(linger_seconds=NEVER) as (store, publisher, relay):
        commit(store, relay, a_hop(URGENT, "alert", "accepted"), a_row(URGENT, "alert"))
        await until(lambda: len(publisher.published) == 1)
        await asyncio.sleep(0.05)

        assert [m.message_id for m in publisher.published] == ["alert"]


async def test_a_follow_up_hop_written_by_a_round_wakes_the_lingering_round_not_a_round_of_messages() -> None:
    """The published hop of an alert's round would otherwise cost a round of messages that the next alert waits
    behind, or wait for the poll."""
    def published_hop(sent: OutgoingMessage) -> list[OutgoingMessage]:
        return [a_hop(sent.priority, sent.message_id, "published")] if sent.type != HOP_RECORDED else []

    async with running_relay(published_hop) as (store, publisher, relay):
        store.add(a_row(URGENT, "alert"))
        assert await relay.relay_once(*URGENT_PROMPT) == 1
        await until(lambda: len(publisher.published) == 2)
        await asyncio.sleep(0.01)

        assert publisher.published[1].message_id == "published:alert"
        assert store.takes == [URGENT_PROMPT, LINGERING]


async def test_a_round_of_urgent_rows_takes_its_own_size_and_a_round_of_the_lanes_below_theirs() -> None:
    store = FakeOutboxStore()
    relay = OutboxRelay(store, FakePublisher(), batch_size=1, lower_batch_size=3, poll_seconds=NEVER)
    store.add(*(a_row(URGENT, f"alert-{i}") for i in range(3)), *(a_row(ROUTINE, f"record-{i}") for i in range(4)))

    assert await relay.relay_once(URGENT_ONLY) == 1
    assert await relay.relay_once(ALL_BUT_URGENT) == 3
