"""The regional index: the store written once against the fake and PostgreSQL, and the rebuild at start."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.bootstrap import rebuild
from services.enrichment.catch_up import catch_up
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.domain.regional import MATCHABLE_TYPES, RegionalMatcher
from services.enrichment.fakes import InMemoryRegionalIndex
from services.enrichment.handlers import when_message_published_enrich_it
from services.enrichment.ports import MessageToIndex, StoredSince
from shared.contracts.entities import Entities
from shared.contracts.events import MessageEnriched
from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.contracts.registry import MESSAGE_ENRICHED, parse
from shared.db.uow import AsyncpgUnitOfWork
from tests.federations import federation_with

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "postgres"])
def index(request):
    if request.param == "fake":
        return InMemoryRegionalIndex()
    return AsyncpgRegionalIndex(request.getfixturevalue("pool"))


def entities_of(body: dict, country: str = "NE"):
    return normalise_entities(Entities.model_validate(body), reporting_country=country)


async def streamed(index, **options) -> list[list]:
    return [batch async for batch in index.stream(**options)]


async def test_stream_returns_every_stored_entity_in_insertion_order_a_batch_at_a_time(index) -> None:
    first, second = uuid4(), uuid4()
    await index.index_many([MessageToIndex(first, "NE", "H1", entities_of(
        {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985"}], "places": [{"name": "Gao"}]}))])
    await index.index_many([MessageToIndex(second, "ML", "H0", entities_of(
        {"phones": [{"number": "90 12 34 56"}], "firearms": [{"serial": "AK-123456"}]}, "ML"))])

    batches = await streamed(index, batch_size=3)
    assert [len(b) for b in batches] == [3, 1]
    rows = [row for batch in batches for row in batch]
    assert [(r.message_id, r.platform, r.entity_type, r.position) for r in rows] == [
        (first, "NE", "person", 0), (first, "NE", "place", 0), (second, "ML", "firearm", 0), (second, "ML", "phone", 0)]
    assert rows[0].canonical["names"][0]["text"] == "Mohamed Ould Ahmed" and rows[0].handling_code == "H1"

    matchable = [r for b in await streamed(index, batch_size=100, entity_types=sorted(MATCHABLE_TYPES)) for r in b]
    assert [r.entity_type for r in matchable] == ["person", "firearm", "phone"]


async def test_adding_the_same_message_twice_stores_it_once(index) -> None:
    message_id = uuid4()
    entities = entities_of({"documents": [{"type": "passport", "number": "B0987654", "issuing_country": "MR"}]})
    for _ in range(2):
        await index.index_many([MessageToIndex(message_id, "NE", "H0", entities)])
    rows = [r for b in await streamed(index, batch_size=10) for r in b]
    assert [(r.message_id, r.entity_type) for r in rows] == [(message_id, "document")]
    [found] = await index.index_many([MessageToIndex(uuid4(), "ML", "H0", [], matching=["doc:passport:MR:B0987654"])])
    assert [(r.message_id, r.platform) for r in found] == [(message_id, "NE")]


async def test_stored_since_names_each_message_stored_after_a_place_once(index) -> None:
    first, second = uuid4(), uuid4()
    await index.index_many([MessageToIndex(first, "NE", "H0", entities_of(
        {"persons": [{"names": ["Mohamed Ould Ahmed"]}, {"names": ["Aicha Mint Sidi"]}]}))])
    [start] = [r.seq for b in await streamed(index, batch_size=10) for r in b][-1:]
    await index.index_many([MessageToIndex(second, "ML", "H0", entities_of(
        {"phones": [{"number": "90 12 34 56"}], "places": [{"name": "Gao"}]}, "ML"))])
    newest = max(r.seq for b in await streamed(index, batch_size=10) for r in b)

    everything = await index.stored_since(start - 2)
    assert (everything.newest, sorted(map(str, everything.message_ids))) == (newest, sorted([str(first), str(second)]))
    after_first = await index.stored_since(start, entity_types=sorted(MATCHABLE_TYPES))
    assert (after_first.newest, after_first.message_ids) == (newest - 1, [second])  # the place is not matchable
    assert await index.stored_since(newest) == StoredSince(newest, [])

    rows = await index.entities_of([second, uuid4()], entity_types=sorted(MATCHABLE_TYPES))
    assert [(r.message_id, r.platform, r.entity_type, r.position) for r in rows] == [(second, "ML", "phone", 0)]
    assert [r.entity_type for r in await index.entities_of([first, second])] == ["person", "person", "phone", "place"]


# ---- the enrichment handler on PostgreSQL, and the in-memory index rebuilt at start ---------------------

def submitted(kind: str, origin: str, entities: dict[str, Any], message_id: UUID | None = None) -> Message:
    body = ({"alert_type": "wanted_person", "summary": "Wanted.", "entities": entities} if kind == "alert" else
            {"crime_category": "terrorism", "summary": "Seen.", "entities": entities})
    command = SUBMIT_ADAPTER.validate_python({"kind": kind, "submitted_by": "police",
                                              "evaluation": {"source": "B", "information": "2"}, "body": body})
    return stamp(command, message_id=message_id or uuid4(), origin=origin, created_at=NOW)


async def enrich(pool, matcher: RegionalMatcher, message: Message) -> Any:
    return await when_message_published_enrich_it(
        message, uow=AsyncpgUnitOfWork(pool, AsyncpgRegionalIndex), matcher=matcher, ingress_platform=message.origin,
        federation=federation_with(), clock=lambda: NOW)


async def enriched(pool, message_id: UUID) -> MessageEnriched:
    for row in await pool.fetch("SELECT type, body FROM outbox WHERE type = $1", MESSAGE_ENRICHED):
        event = parse(row["type"], bytes(row["body"]))
        if isinstance(event, MessageEnriched) and event.message.message_id == message_id:
            return event
    raise AssertionError(f"no enriched event for {message_id}")


WANTED = {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"}]}
SEEN_IN_ARABIC = {"persons": [{"names": ["محمد ولد أحمد"], "birth_date": "1985"}]}


async def test_an_index_rebuilt_from_postgresql_finds_what_an_earlier_process_indexed(pool) -> None:
    before_restart = RegionalMatcher()
    alert = submitted("alert", "NE", WANTED)
    await enrich(pool, before_restart, alert)
    await enrich(pool, before_restart, submitted("report", "MR", {"phones": [{"number": "+222 22 33 44 55"}]}))

    after_restart = RegionalMatcher()
    rebuilt = await rebuild(after_restart, AsyncpgRegionalIndex(pool), batch_size=1)
    assert rebuilt.records == 2 and rebuilt.newest == await pool.fetchval("SELECT max(seq) FROM indexed_entities")
    assert after_restart.ready and (len(after_restart), after_restart.messages) == (2, 2)

    report = submitted("report", "ML", SEEN_IN_ARABIC)
    await enrich(pool, after_restart, report)
    [hit] = (await enriched(pool, report.message_id)).enrichment.hits
    assert (hit.matched_message_id, hit.matched_platform, hit.outcome, hit.entity_type) == (
        alert.message_id, "NE", "hit", "person")


async def test_a_redelivery_after_the_rebuild_adds_nothing_to_either_index(pool) -> None:
    alert = submitted("alert", "NE", WANTED)
    await enrich(pool, RegionalMatcher(), alert)

    matcher = RegionalMatcher()
    await rebuild(matcher, AsyncpgRegionalIndex(pool), batch_size=100)
    assert await enrich(pool, matcher, alert) == "duplicate"
    assert (len(matcher), matcher.messages) == (1, 1)
    assert await pool.fetchval("SELECT count(*) FROM indexed_entities WHERE message_id = $1", alert.message_id) == 1


async def test_a_failed_transaction_leaves_the_in_memory_index_untouched(pool) -> None:
    matcher = RegionalMatcher()
    matcher.finish_loading()
    broken = submitted("alert", "NE", WANTED)
    await pool.execute("ALTER TABLE indexed_entities ADD CONSTRAINT no_persons CHECK (entity_type <> 'person')")
    try:
        with pytest.raises(Exception, match="no_persons"):
            await enrich(pool, matcher, broken)
    finally:
        await pool.execute("ALTER TABLE indexed_entities DROP CONSTRAINT no_persons")
    assert len(matcher) == 0
    await enrich(pool, matcher, broken)  # the redelivery
    assert len(matcher) == 1


async def test_a_message_committed_without_reaching_the_matcher_is_caught_up_from_postgresql(pool) -> None:
    matcher = RegionalMatcher()
    rebuilt = await rebuild(matcher, AsyncpgRegionalIndex(pool), batch_size=100)
    alert = submitted("alert", "NE", WANTED)
    await enrich(pool, RegionalMatcher(), alert)  # committed; this matcher was never fed, as after a lost COMMIT reply
    assert await enrich(pool, matcher, alert) == "duplicate"  # the redelivery is its own claim's duplicate
    assert matcher.messages == 0

    newest, added = await catch_up(matcher, AsyncpgRegionalIndex(pool), after=rebuilt.newest)
    assert (added, matcher.messages, len(matcher)) == (1, 1, 1)
    assert newest == await pool.fetchval("SELECT max(seq) FROM indexed_entities")

    report = submitted("report", "ML", SEEN_IN_ARABIC)
    await enrich(pool, matcher, report)
    [hit] = (await enriched(pool, report.message_id)).enrichment.hits
    assert (hit.matched_message_id, hit.outcome, hit.entity_type) == (alert.message_id, "hit", "person")
