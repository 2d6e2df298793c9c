"""The outbox relay's rounds, over the in-memory outbox (the store's own tests: tests/integration/test_outbox_store.py)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

import orjson

from shared.contracts.registry import BATCH_RELAYED, HOP_RECORDED, HOPS_RECORDED, MATCH_FOUND, ROUTING_DECIDED
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
    await asyncio.sleep(0.01)
    store.takes.clear()
    try:
        yield store, publisher, relay
    finally:
        task.cancel()


def commit(store: FakeOutboxStore, relay: OutboxRelay, *rows: OutgoingMessage) -> None:
    """What a unit of work does: its rows are in the outbox, then the relay is told their priorities."""
    store.add(*rows)
    relay.wake({(row.priority, row.type) for row in rows})


async def test_a_commit_of_urgent_rows_wakes_the_urgent_round_only() -> None:
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert-copy"))
        await until(lambda: len(publisher.published) == 1)
        await asyncio.sleep(0.01)

        assert store.takes == [URGENT_PROMPT]


async def test_a_commit_of_a_hop_alone_wakes_the_lingering_round_only() -> None:
    """Most commits of a recipient hold only its delivered hop: a prompt round would find nothing to take."""
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_hop(URGENT, "alert", "delivered"))
        await until(lambda: len(publisher.published) == 1)
        await asyncio.sleep(0.01)

        assert store.takes == [LINGERING]


async def test_a_commit_of_rows_of_both_bands_wakes_every_round_and_so_does_a_wake_naming_none() -> None:
    async with running_relay() as (store, publisher, relay):
        commit(store, relay, a_row(URGENT, "alert-copy"), a_row(ROUTINE, "receipt"), a_hop(URGENT, "alert", "routed"))
        await until(lambda: len(publisher.published) == 3)
        await until(lambda: len(store.takes) == 3)
        relay.wake()
        await until(lambda: len(store.takes) == 6)

        assert sorted(store.takes) == sorted([URGENT_PROMPT, LOWER_PROMPT, LINGERING] * 2)


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
