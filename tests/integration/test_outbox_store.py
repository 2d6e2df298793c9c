"""The relay's outbox (OutboxStore), written once, run against the in-memory store and PostgreSQL."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import uuid4

import asyncpg
import pytest

from shared.db.outbox_store import AsyncpgOutboxStore
from shared.db.uow import insert_outbox_rows
from shared.messaging.fakes import FakeOutboxStore
from shared.messaging.outgoing import OutgoingMessage
from shared.contracts.registry import HOP_RECORDED, ROUTING_DECIDED
from shared.messaging.relay import ALL_BUT_URGENT, URGENT_ONLY, OutboxStore, Rows

pytestmark = pytest.mark.integration


@dataclass
class Outbox:
    store: OutboxStore
    add: Callable[..., Awaitable[None]]


@pytest.fixture(params=["fake", "postgres"])
def outbox(request) -> Outbox:
    if request.param == "fake":
        fake = FakeOutboxStore()

        async def add_to_fake(*messages: OutgoingMessage) -> None:
            fake.add(*messages)
        return Outbox(fake, add_to_fake)
    pool: asyncpg.Pool = request.getfixturevalue("pool")

    async def add_to_postgres(*messages: OutgoingMessage) -> None:
        async with pool.acquire() as connection:
            await insert_outbox_rows(connection, list(messages))
    return Outbox(AsyncpgOutboxStore(pool), add_to_postgres)


def a_row(priority: int, type_: str = "pcms.message_dispatched") -> OutgoingMessage:
    return OutgoingMessage(exchange="pcms.delivery", routing_key="ML.routine", body=b"{}", type=type_,
                           message_id=str(uuid4()), priority=priority)


def a_hop(priority: int) -> OutgoingMessage:
    return a_row(priority, HOP_RECORDED)


def a_routing_decision(priority: int) -> OutgoingMessage:
    return a_row(priority, ROUTING_DECIDED)


async def taken(
    store: OutboxStore, limit: int = 50, priorities: tuple[int, int] = (-32768, 32767), rows: Rows = Rows.ALL
) -> list[str]:
    async with store.take(limit, priorities=priorities, rows=rows) as batch:
        return [message.message_id for _, message in batch.rows]


async def test_a_take_gives_the_rows_of_its_priorities_highest_first_then_oldest_up_to_its_limit(outbox):
    routine, urgent, bulk, later_urgent = a_row(5), a_row(9), a_row(1), a_row(9)
    await outbox.add(routine, urgent, bulk, later_urgent)

    assert await taken(outbox.store, priorities=URGENT_ONLY) == [urgent.message_id, later_urgent.message_id]
    assert await taken(outbox.store, priorities=ALL_BUT_URGENT) == [routine.message_id, bulk.message_id]
    assert await taken(outbox.store, limit=3) == [urgent.message_id, later_urgent.message_id, routine.message_id]
    assert await outbox.store.unsent_by_priority() == {9: 2, 5: 1, 1: 1}


async def test_a_take_of_lingering_rows_gives_only_those_a_take_of_prompt_rows_the_others_and_all_count_unsent(outbox):
    hop, message, decision, urgent_message = a_hop(9), a_row(5), a_routing_decision(5), a_row(9)
    await outbox.add(hop, message, decision, urgent_message)

    assert await taken(outbox.store, rows=Rows.LINGERING) == [hop.message_id, decision.message_id]
    assert await taken(outbox.store, priorities=URGENT_ONLY, rows=Rows.PROMPT) == [urgent_message.message_id]
    assert await taken(outbox.store, rows=Rows.PROMPT) == [urgent_message.message_id, message.message_id]
    assert await outbox.store.unsent_by_priority() == {9: 2, 5: 2}


async def test_sent_rows_are_not_taken_again_and_follow_ups_are_added_unsent(outbox):
    first, second, follow_up = a_row(5), a_row(5), a_row(5)
    await outbox.add(first, second)
    async with outbox.store.take(1) as batch:
        batch.sent.extend(row_id for row_id, _ in batch.rows)
        batch.follow_ups.append(follow_up)

    assert await taken(outbox.store) == [second.message_id, follow_up.message_id]
    assert await outbox.store.unsent_by_priority() == {5: 2}


async def test_a_failed_row_stays_unsent_and_waits_before_it_is_taken_again(outbox):
    failing = a_row(5)
    await outbox.add(failing)
    async with outbox.store.take(10) as batch:
        (row_id, _), = batch.rows
        batch.failed[row_id] = "NOT_FOUND - no exchange"

    assert await taken(outbox.store) == []
    assert await outbox.store.unsent_by_priority() == {5: 1}


async def test_a_sent_row_leaves_the_table_with_its_confirm_and_an_unsent_one_stays(pool):
    store = AsyncpgOutboxStore(pool)
    sent, unsent = a_row(5), a_row(1)
    async with pool.acquire() as connection:
        await insert_outbox_rows(connection, [sent, unsent])
    async with store.take(1) as batch:
        batch.sent.extend(row_id for row_id, _ in batch.rows)

    assert [row["message_id"] for row in await pool.fetch("SELECT message_id FROM outbox")] == [unsent.message_id]


async def test_rows_an_earlier_release_marked_sent_are_forgotten_and_unsent_rows_never(pool):
    store = AsyncpgOutboxStore(pool)
    kept_by_an_earlier_release, unsent = [a_row(5), a_row(5), a_row(5)], a_row(1)
    async with pool.acquire() as connection:
        await insert_outbox_rows(connection, [*kept_by_an_earlier_release, unsent])
    await pool.execute("UPDATE outbox SET sent_at = now() WHERE message_id = ANY($1::text[])",
                       [row.message_id for row in kept_by_an_earlier_release])

    assert await store.forget_sent(per_statement=2) == 3
    assert await store.forget_sent() == 0
    assert await store.unsent_by_priority() == {1: 1}
    assert await taken(store) == [unsent.message_id]


async def test_reclaiming_sent_rows_analyses_only_the_columns_a_take_is_planned_on(pool):
    store = AsyncpgOutboxStore(pool)
    async with pool.acquire() as connection:
        await insert_outbox_rows(connection, [a_row(5), a_row(1)])  # one row stays unsent: there is something to analyse
    async with store.take(1) as batch:
        batch.sent.extend(row_id for row_id, _ in batch.rows)

    async def analysed() -> set[str]:
        return {row["attname"] for row in await pool.fetch(
            "SELECT attname FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'outbox'")}

    before = await analysed()  # a server's autovacuum may have analysed the whole table already
    await store.reclaim_sent()
    after = await analysed()

    assert {"sent_at", "priority", "lingers"} <= after
    assert not (after - before) & {"body", "headers", "exchange", "routing_key"}
    targets = dict(await pool.fetch(
        "SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = 'outbox'::regclass AND attnum > 0"))
    assert {targets[c] for c in ("sent_at", "next_attempt_at", "priority", "lingers")} == {10}
