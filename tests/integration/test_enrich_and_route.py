"""The hub's enrichment routing what it has just enriched, in one PostgreSQL transaction (settings.routes_in_process,
services/enrichment/bootstrap.py), alone and inside a batch's shared transaction."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.bootstrap import in_one_transaction, with_enriched_ids
from services.enrichment.domain.regional import RegionalMatcher
from services.enrichment.handlers import CONSUMER as ENRICHMENT
from services.enrichment.handlers import when_message_published_enrich_it
from services.routing.adapters import AsyncpgRoutingStore
from services.routing.handlers import CONSUMER as ROUTING
from services.routing.handlers import when_message_enriched_route_it
from shared.contracts.identity import derived_id
from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.contracts.registry import HOP_RECORDED, MESSAGE_DISPATCHED, MESSAGE_ENRICHED
from shared.db.uow import AsyncpgUnitOfWork, SharedTransaction
from shared.messaging.batch_end import batch_end
from shared.messaging.errors import BatchContended
from shared.messaging.runtime import bind
from shared.policy import load_policy
from tests.federations import federation_with

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)
WANTED = {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"}]}


def alert() -> Message:
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "alert", "submitted_by": "police", "evaluation": {"source": "B", "information": "2"},
        "body": {"alert_type": "wanted_person", "summary": "Wanted.", "entities": WANTED}})
    return stamp(command, message_id=uuid4(), origin="NE", created_at=NOW)


def enrich_and_route(pool, matcher: RegionalMatcher, *, route: Any = None):
    route = route or bind(when_message_enriched_route_it, new_uow=lambda: AsyncpgUnitOfWork(pool, AsyncpgRoutingStore),
                          federation=federation_with(), policy=load_policy(), clock=lambda: NOW)
    return in_one_transaction(bind(
        when_message_published_enrich_it, new_uow=lambda: AsyncpgUnitOfWork(pool, AsyncpgRegionalIndex),
        matcher=matcher, ingress_platform="NE", federation=federation_with(), clock=lambda: NOW, route=route), pool)


async def outbox_types(pool, message_id: UUID) -> list[str]:
    rows = await pool.fetch("SELECT type FROM outbox WHERE correlation_id = $1 ORDER BY id", str(message_id))
    return sorted(row["type"] for row in rows)


async def claims(pool, message_id: UUID) -> set[str]:
    rows = await pool.fetch(
        "SELECT consumer FROM processed_messages WHERE (consumer, message_id) IN (($1, $2), ($3, $4))",
        ENRICHMENT, message_id, ROUTING, derived_id(message_id, "enriched"))
    return {row["consumer"] for row in rows}


async def test_an_alert_is_routed_in_the_transaction_that_enriched_it_and_its_enriched_form_is_never_published(
    pool,
) -> None:
    matcher = RegionalMatcher()
    matcher.finish_loading()
    message = alert()
    await enrich_and_route(pool, matcher)(message)

    recipients = await pool.fetchval("SELECT recipients FROM routed_messages WHERE message_id = $1", message.message_id)
    types = await outbox_types(pool, message.message_id)
    assert recipients and types.count(MESSAGE_DISPATCHED) == len(recipients)
    assert MESSAGE_ENRICHED not in types and types.count(HOP_RECORDED) == 2  # enriched and routed
    assert await claims(pool, message.message_id) == {ENRICHMENT, ROUTING}
    assert (len(matcher), matcher.messages) == (1, 1)


async def test_a_routing_failure_rolls_the_enrichment_back_and_the_redelivery_does_both(pool) -> None:
    matcher = RegionalMatcher()
    matcher.finish_loading()
    message = alert()

    routing = bind(when_message_enriched_route_it, new_uow=lambda: AsyncpgUnitOfWork(pool, AsyncpgRoutingStore),
                   federation=federation_with(), policy=load_policy(), clock=lambda: NOW)

    async def failing_route(event: Any) -> None:
        await routing(event)  # its unit of work has exited: alone, it would have committed
        raise RuntimeError("routing failed")

    with pytest.raises(RuntimeError, match="routing failed"):
        await enrich_and_route(pool, matcher, route=failing_route)(message)
    assert await claims(pool, message.message_id) == set()
    assert await outbox_types(pool, message.message_id) == []
    assert await pool.fetchval("SELECT count(*) FROM routed_messages WHERE message_id = $1", message.message_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM indexed_entities WHERE message_id = $1", message.message_id) == 0
    assert len(matcher) == 0

    await enrich_and_route(pool, matcher)(message)
    assert await claims(pool, message.message_id) == {ENRICHMENT, ROUTING}
    assert len(matcher) == 1


async def test_a_redelivery_is_a_duplicate_that_routes_nothing_again(pool) -> None:
    matcher = RegionalMatcher()
    matcher.finish_loading()
    message = alert()
    handle = enrich_and_route(pool, matcher)
    await handle(message)
    before = await outbox_types(pool, message.message_id)

    assert await handle(message) == "duplicate"
    assert await outbox_types(pool, message.message_id) == before


async def test_in_a_batch_both_commit_with_the_batch_and_the_matcher_learns_only_after_its_commit(pool) -> None:
    matcher = RegionalMatcher()
    matcher.finish_loading()
    first, second = alert(), alert()
    handle = enrich_and_route(pool, matcher)
    async with SharedTransaction(pool, *with_enriched_ids([str(first.message_id), str(second.message_id)])):
        with batch_end() as end:
            await handle(first)
            await handle(second)
            await end.run()
        assert len(matcher) == 0
        assert await claims(pool, first.message_id) == set()  # seen from outside the batch's transaction

    assert (len(matcher), matcher.messages) == (2, 2)
    for message in (first, second):
        assert await claims(pool, message.message_id) == {ENRICHMENT, ROUTING}
        assert MESSAGE_DISPATCHED in await outbox_types(pool, message.message_id)


async def test_in_a_batch_the_routing_claims_are_written_at_its_commit_and_a_copy_committed_meanwhile_is_caught(
    pool,
) -> None:
    message = alert()
    matcher = RegionalMatcher()
    matcher.finish_loading()
    handle = enrich_and_route(pool, matcher)
    with pytest.raises(BatchContended):
        async with SharedTransaction(pool, *with_enriched_ids([str(message.message_id), "not-a-uuid"])):
            with batch_end() as end:
                await handle(message)
                await end.run()
            async with pool.acquire() as other, other.transaction():  # a copy, routed apart, commits first
                await other.execute("SET LOCAL lock_timeout = '2s'")
                await other.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)",
                                    ROUTING, derived_id(message.message_id, "enriched"))
    assert await claims(pool, message.message_id) == {ROUTING}
    assert (len(matcher), await outbox_types(pool, message.message_id)) == (0, [])
