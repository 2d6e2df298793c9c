"""The enrichment handler at the hub, driven with the in-memory unit of work and regional index."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from shared.contracts.events import MessageEnriched
from shared.contracts.identity import derived_id, hop_event_id
from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.contracts.registry import HOP_RECORDED, MESSAGE_ENRICHED, parse
from shared.federation import Federation
from shared.messaging import names
from shared.messaging.batch_end import batch_end
from shared.messaging.errors import MessageRejected
from shared.messaging.fakes import FakeUnitOfWork
from services.enrichment.domain.regional import RegionalMatcher
from services.enrichment.fakes import InMemoryRegionalIndex
from services.enrichment.ports import IndexedKey, MessageToIndex
from services.enrichment.handlers import CONSUMER, when_message_published_enrich_it

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, 1, tzinfo=UTC)
FIRST_ID = UUID("00000000-0000-4000-8000-000000000001")
SECOND_ID = UUID("00000000-0000-4000-8000-000000000002")
PASSPORT = {"type": "passport", "number": "B0987654", "issuing_country": "MR"}


def clock() -> datetime:
    return NOW


def federation() -> Federation:
    platforms = [{"code": "HUB", "role": "hub", "name": "Regional Platform", "city": "Nouakchott", "country": "MR",
                  "status": "active", "api_port": 8000}]
    platforms += [{"code": code, "role": "member", "name": code, "city": code, "country": code, "status": "active",
                   "api_port": 8001 + i} for i, code in enumerate(("MR", "ML", "BF", "NE", "TD"))]
    return Federation.model_validate({"version": 1, "platforms": platforms})


def alert(*, message_id: UUID = FIRST_ID, origin: str = "NE", entities: dict[str, Any] | None = None,
          **fields: Any) -> Message:
    data = {"kind": "alert", "submitted_by": "police", "evaluation": {"source": "B", "information": "2"},
            "body": {"alert_type": "wanted_person", "summary": "Wanted.", "entities": entities or {}}} | fields
    return stamp(SUBMIT_ADAPTER.validate_python(data), message_id=message_id, origin=origin, created_at=NOW)


def new_uow(index: InMemoryRegionalIndex | None = None) -> FakeUnitOfWork[InMemoryRegionalIndex]:
    uow = FakeUnitOfWork(index or InMemoryRegionalIndex())
    uow.matcher = RegionalMatcher()  # type: ignore[attr-defined]  # the process-wide in-memory index, one per test
    return uow


async def enrich(uow: FakeUnitOfWork[Any], message: Message, *, ingress: str | None = None, route: Any = None) -> Any:
    return await when_message_published_enrich_it(message, uow=uow, matcher=uow.matcher,  # type: ignore[attr-defined]
                                                  ingress_platform=ingress or message.origin, federation=federation(),
                                                  clock=clock, route=route)


def enriched_events(uow: FakeUnitOfWork[Any]) -> list[MessageEnriched]:
    return [parse(row.type, row.body) for row in uow.published if row.type == MESSAGE_ENRICHED]  # type: ignore[misc]


class FailingIndex(InMemoryRegionalIndex):
    async def index_many(self, messages: Sequence[MessageToIndex]) -> list[list[IndexedKey]]:
        raise RuntimeError("database went away")


class CountingIndex(InMemoryRegionalIndex):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[UUID]] = []

    async def index_many(self, messages: Sequence[MessageToIndex]) -> list[list[IndexedKey]]:
        self.calls.append([message.message_id for message in messages])
        return await super().index_many(messages)


async def test_a_message_whose_origin_is_not_the_ingress_platform_is_rejected() -> None:
    uow = new_uow()
    with pytest.raises(MessageRejected, match="origin NE arrived on the exchange of ML"):
        await enrich(uow, alert(origin="NE", entities={"documents": [PASSPORT]}), ingress="ML")
    assert (uow.published, uow.claims, uow.commits, uow.store.rows) == ([], set(), 0, [])


async def test_an_enriched_message_is_published_to_the_hub_enriched_exchange_in_its_lane_by_kind() -> None:
    uow = new_uow()
    message = alert(priority="urgent", entities={"documents": [PASSPORT], "phones": [{"number": "90 12 34 56"}]})
    await enrich(uow, message)

    [row] = [row for row in uow.published if row.type == MESSAGE_ENRICHED]
    assert (row.exchange, row.routing_key) == (names.HUB_ENRICHED, names.enriched_key(names.ROUTINE, "alert"))
    assert row.message_id == str(derived_id(FIRST_ID, "enriched"))
    event = parse(row.type, row.body)
    assert isinstance(event, MessageEnriched)
    assert (event.message, event.enriched_at, event.enrichment.hits) == (message, NOW, [])
    keys = {key for entity in event.enrichment.entities for key in entity.keys}
    assert {"doc:passport:MR:B0987654", "phone:+22790123456"} <= keys  # national number read with NE as region


async def test_enrichment_records_an_enriched_hop_on_the_audit_exchange() -> None:
    uow = new_uow()
    await enrich(uow, alert(entities={"documents": [PASSPORT]}))

    [row] = [row for row in uow.published if row.type == HOP_RECORDED]
    assert (row.exchange, row.routing_key) == (names.AUDIT, "audit.enriched")
    hop = parse(row.type, row.body)
    assert (hop.hop, hop.platform, hop.service, hop.at) == ("enriched", "HUB", "enrichment", NOW)
    assert hop.event_id == hop_event_id(FIRST_ID, "enriched", "HUB")
    assert hop.detail == {"origin": "NE", "entities": 1, "hits": 0}


async def test_enrichment_indexes_the_entity_keys_under_the_origin_and_message() -> None:
    uow = new_uow()
    await enrich(uow, alert(entities={"documents": [PASSPORT]}))

    assert {(row.key, row.entity_type, row.position, row.platform, row.message_id) for row in uow.store.rows} == {
        ("doc:passport:MR:B0987654", "document", 0, "NE", FIRST_ID), ("docnum:B0987654", "document", 0, "NE", FIRST_ID)}
    assert (CONSUMER, FIRST_ID) in uow.claims


async def test_a_document_indexed_from_another_platform_is_a_hit() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities={"documents": [PASSPORT]}))
    await enrich(uow, alert(message_id=SECOND_ID, origin="ML",
                            entities={"persons": [{"names": ["Sidi Mohamed"], "documents": [PASSPORT]}]}))

    first, second = enriched_events(uow)
    assert first.enrichment.hits == []
    [hit] = second.enrichment.hits
    assert (hit.entity_type, hit.position, hit.key, hit.matched_message_id, hit.matched_platform) == (
        "person", 0, "doc:passport:MR:B0987654", FIRST_ID, "NE")
    assert (hit.score, hit.outcome, hit.explanation) == (1.0, "hit", ["passport number identical (MR B0987654)"])


async def test_in_a_batch_the_messages_are_indexed_with_one_call_at_its_end_and_a_later_one_hits_an_earlier_one(
) -> None:
    uow = new_uow(CountingIndex())
    with batch_end() as end:
        await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities={"documents": [PASSPORT]}))
        await enrich(uow, alert(message_id=SECOND_ID, origin="ML",
                                entities={"persons": [{"names": ["Sidi Mohamed"], "documents": [PASSPORT]}]}))
        assert (uow.store.calls, enriched_events(uow)) == ([], [])
        await end.run()

    assert uow.store.calls == [[FIRST_ID, SECOND_ID]]
    first, second = enriched_events(uow)
    assert first.enrichment.hits == []
    assert [(hit.key, hit.matched_message_id) for hit in second.enrichment.hits] == [
        ("doc:passport:MR:B0987654", FIRST_ID)]


async def test_alone_a_message_is_indexed_at_once() -> None:
    uow = new_uow(CountingIndex())
    await enrich(uow, alert(message_id=FIRST_ID, entities={"documents": [PASSPORT]}))
    assert (uow.store.calls, len(enriched_events(uow))) == ([[FIRST_ID]], 1)


async def test_a_phone_indexed_from_another_platform_is_a_hit_whatever_its_format() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities={"phones": [{"number": "90 12 34 56"}]}))
    await enrich(uow, alert(message_id=SECOND_ID, origin="TD", entities={"phones": [{"number": "+227 90123456"}]}))

    [hit] = enriched_events(uow)[1].enrichment.hits
    assert (hit.entity_type, hit.key, hit.matched_message_id, hit.matched_platform, hit.outcome) == (
        "phone", "phone:+22790123456", FIRST_ID, "NE", "hit")


async def test_the_same_full_name_from_another_platform_is_a_scored_name_match() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities={"persons": [{"names": ["Mohamed Ould Ahmed"]}]}))
    await enrich(uow, alert(message_id=SECOND_ID, origin="MR", entities={"persons": [{"names": ["Mohamed Ould Ahmed"]}]}))

    [hit] = enriched_events(uow)[1].enrichment.hits
    assert (hit.key, hit.outcome, hit.matched_message_id, hit.matched_platform) == (
        "name:mohamed ould ahmed", "hit", FIRST_ID, "NE")
    assert hit.explanation[0] == "names 1.00"


async def test_different_identifiers_are_no_hit() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities={"documents": [PASSPORT]}))
    await enrich(uow, alert(message_id=SECOND_ID, origin="ML",
                            entities={"documents": [PASSPORT | {"number": "B0987655"}]}))

    assert enriched_events(uow)[1].enrichment.hits == []


async def test_a_message_without_entities_is_enriched_with_nothing_and_indexes_nothing() -> None:
    uow = new_uow()
    await enrich(uow, alert())

    [event] = enriched_events(uow)
    assert (event.enrichment.entities, event.enrichment.hits) == ([], [])
    assert uow.store.rows == []


async def test_a_repeated_message_is_enriched_and_indexed_once() -> None:
    uow = new_uow()
    message = alert(entities={"documents": [PASSPORT]})
    await enrich(uow, message)
    first_rows, first_published = list(uow.store.rows), list(uow.published)

    await enrich(uow, message)

    assert uow.store.rows == first_rows
    assert uow.published == first_published


async def test_a_failing_enrichment_commits_nothing_and_a_redelivery_is_enriched() -> None:
    uow = new_uow(FailingIndex())
    message = alert(entities={"documents": [PASSPORT]})
    with pytest.raises(RuntimeError):
        await enrich(uow, message)
    assert (uow.published, uow.claims, uow.commits) == ([], set(), 0)

    uow.store = InMemoryRegionalIndex()
    await enrich(uow, message)
    assert [row.type for row in uow.published] == [MESSAGE_ENRICHED, HOP_RECORDED]


# ---- scored matching against the in-memory regional index --------------------------------------------

THIRD_ID = UUID("00000000-0000-4000-8000-000000000003")
WANTED_LATIN = {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"}]}


def report(*, message_id: UUID, origin: str, entities: dict[str, Any]) -> Message:
    data = {"kind": "report", "submitted_by": "gendarmerie", "evaluation": {"source": "A", "information": "1"},
            "body": {"crime_category": "terrorism", "summary": "Contrôle.", "entities": entities}}
    return stamp(SUBMIT_ADAPTER.validate_python(data), message_id=message_id, origin=origin, created_at=NOW)


async def test_a_person_reported_in_arabic_script_hits_an_alert_in_latin_script_from_another_state() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities=WANTED_LATIN))
    await enrich(uow, report(message_id=SECOND_ID, origin="ML",
                             entities={"persons": [{"names": ["محمد ولد أحمد"], "birth_date": "1985"}]}))

    [hit] = enriched_events(uow)[1].enrichment.hits
    assert (hit.entity_type, hit.position, hit.matched_message_id, hit.matched_platform, hit.outcome) == (
        "person", 0, FIRST_ID, "NE", "hit")
    assert hit.score >= 0.82
    assert any("across scripts" in line for line in hit.explanation), hit.explanation
    assert "birth year identical" in hit.explanation
    assert hit.key.startswith("name:")


async def test_a_namesake_born_decades_apart_is_not_a_hit() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities=WANTED_LATIN))
    await enrich(uow, report(message_id=SECOND_ID, origin="ML",
                             entities={"persons": [{"names": ["محمد ولد أحمد"], "birth_date": "1950"}]}))

    assert all(hit.outcome != "hit" for hit in enriched_events(uow)[1].enrichment.hits)


async def test_an_unrelated_person_has_no_hit_and_hits_are_never_no_hit() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities=WANTED_LATIN))
    await enrich(uow, report(message_id=SECOND_ID, origin="ML", entities={"persons": [{"names": ["Zakaria Sanogo"]}]}))
    await enrich(uow, report(message_id=THIRD_ID, origin="MR", entities={"persons": [{"names": ["Mohamed Ould Ahmad"]}]}))

    events = enriched_events(uow)
    assert events[1].enrichment.hits == []
    assert events[2].enrichment.hits and {h.outcome for h in events[2].enrichment.hits} <= {"hit", "review"}


async def test_a_plate_whose_state_is_unknown_on_one_side_is_for_review() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE",
                            entities={"vehicles": [{"plate": "AB-1234", "plate_country": "NE"}]}))
    await enrich(uow, report(message_id=SECOND_ID, origin="ML", entities={"vehicles": [{"plate": "ab 1234"}]}))

    [hit] = enriched_events(uow)[1].enrichment.hits
    assert (hit.entity_type, hit.outcome, hit.matched_platform) == ("vehicle", "review", "NE")
    assert "state unknown" in hit.explanation[0]


async def test_a_shared_identifier_and_a_name_match_on_the_same_record_make_one_hit() -> None:
    uow = new_uow()
    await enrich(uow, alert(message_id=FIRST_ID, origin="NE", entities={"persons": [
        {"names": ["Mohamed Ould Ahmed"], "documents": [PASSPORT]}]}))
    await enrich(uow, report(message_id=SECOND_ID, origin="ML", entities={"persons": [
        {"names": ["محمد ولد أحمد"], "documents": [PASSPORT]}]}))

    [hit] = enriched_events(uow)[1].enrichment.hits
    assert (hit.outcome, hit.score, hit.matched_message_id) == ("hit", 1.0, FIRST_ID)


async def test_the_in_memory_index_is_fed_once_after_the_commit() -> None:
    uow = new_uow()
    message = alert(entities=WANTED_LATIN | {"phones": [{"number": "90 12 34 56"}]})
    await enrich(uow, message)
    assert (len(uow.matcher), uow.matcher.messages) == (2, 1)

    assert await enrich(uow, message) == "duplicate"
    assert (len(uow.matcher), uow.matcher.messages) == (2, 1)


async def test_a_failed_commit_leaves_the_in_memory_index_untouched() -> None:
    uow = new_uow(FailingIndex())
    message = alert(entities=WANTED_LATIN)
    with pytest.raises(RuntimeError):
        await enrich(uow, message)
    assert len(uow.matcher) == 0

    uow.store = InMemoryRegionalIndex()
    await enrich(uow, message)
    assert len(uow.matcher) == 1


async def test_a_message_does_not_hit_itself_when_the_index_already_holds_it() -> None:
    uow = new_uow()
    message = alert(entities=WANTED_LATIN)
    uow.matcher.add_message(FIRST_ID, "NE", [("person", 0, {"names": [{"text": "Mohamed Ould Ahmed"}],
                                                            "birth_date": "1985"})])
    await enrich(uow, message)
    assert enriched_events(uow)[0].enrichment.hits == []


class Router:
    """Stands for the routing handler run in the enrichment's transaction: records what it was given, and when."""

    def __init__(self, uow: FakeUnitOfWork[Any], *, fails: bool = False) -> None:
        self.uow = uow
        self.fails = fails
        self.routed: list[tuple[MessageEnriched, int, int]] = []

    async def __call__(self, event: MessageEnriched) -> None:
        self.routed.append((event, self.uow.commits, len(self.uow.matcher)))  # type: ignore[attr-defined]
        if self.fails:
            raise RuntimeError("routing store went away")


async def test_given_a_router_the_enriched_message_is_routed_before_the_commit_and_not_published() -> None:
    uow = new_uow()
    router = Router(uow)
    message = alert(entities=WANTED_LATIN)
    await enrich(uow, message, route=router)

    [(event, commits_then, indexed_then)] = router.routed
    assert (event.message, event.enriched_at, commits_then, indexed_then) == (message, NOW, 0, 0)
    assert [row.type for row in uow.published] == [HOP_RECORDED]
    assert (uow.commits, len(uow.matcher)) == (1, 1)


async def test_a_failing_router_commits_nothing_and_feeds_the_in_memory_index_nothing() -> None:
    uow = new_uow()
    message = alert(entities=WANTED_LATIN)
    with pytest.raises(RuntimeError, match="routing store went away"):
        await enrich(uow, message, route=Router(uow, fails=True))
    assert (uow.published, uow.claims, uow.commits, len(uow.matcher)) == ([], set(), 0, 0)

    router = Router(uow)
    await enrich(uow, message, route=router)  # the redelivery
    assert (len(router.routed), uow.commits, len(uow.matcher)) == (1, 1, 1)


async def test_a_duplicate_is_not_routed_again() -> None:
    uow = new_uow()
    router = Router(uow)
    message = alert(entities=WANTED_LATIN)
    await enrich(uow, message, route=router)
    assert await enrich(uow, message, route=router) == "duplicate"
    assert len(router.routed) == 1
