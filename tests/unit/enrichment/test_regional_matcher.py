"""The in-memory view of the regional index: rebuilt from stored rows, fed once per committed message."""

from uuid import UUID

import pytest

from shared.contracts.entities import Entities
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.domain.regional import RegionalMatcher
from services.enrichment.ports import StoredEntity

pytestmark = pytest.mark.unit

ALERT = UUID("00000000-0000-4000-8000-00000000000a")
OTHER = UUID("00000000-0000-4000-8000-00000000000b")


def stored(message_id: UUID, platform: str, body: dict) -> list[StoredEntity]:
    entities = normalise_entities(Entities.model_validate(body), reporting_country=platform)
    return [StoredEntity(message_id, platform, str(e.entity_type), e.position, e.canonical, "H0") for e in entities]


def arabic_query() -> dict:
    [entity] = normalise_entities(Entities.model_validate({"persons": [{"names": ["محمد ولد أحمد"], "birth_date": "1985"}]}),
                                  reporting_country="ML")
    return entity.canonical


ROWS = stored(ALERT, "NE", {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"},
                                        {"names": ["Aicha Mint Sidi"]}],
                            "phones": [{"number": "90 12 34 56"}], "places": [{"name": "Gao"}]})


def test_a_rebuild_loads_matchable_rows_even_across_batches_and_becomes_ready() -> None:
    matcher = RegionalMatcher()
    assert not matcher.ready
    assert matcher.load(ROWS[:2]) + matcher.load(ROWS[2:]) == 4  # the place is stored but not matchable
    matcher.finish_loading()

    assert matcher.ready and (len(matcher), matcher.messages) == (3, 1)
    [top] = matcher.candidates("person", arabic_query(), limit=1)
    assert (top.ref.platform, top.ref.message_id, top.ref.position, top.outcome) == ("NE", str(ALERT), 0, "hit")


def test_a_message_already_loaded_or_added_is_never_added_twice() -> None:
    matcher = RegionalMatcher()
    matcher.load(ROWS)
    matcher.finish_loading()
    assert matcher.add_message(ALERT, "NE", [(r.entity_type, r.position, r.canonical) for r in ROWS]) is False
    assert matcher.load(ROWS) == 0  # a second rebuild pass over the same rows adds nothing either
    assert len(matcher) == 3

    assert matcher.add_message(OTHER, "ML", [("person", 0, arabic_query())]) is True
    assert matcher.add_message(OTHER, "ML", [("person", 0, arabic_query())]) is False
    assert (len(matcher), matcher.messages) == (4, 2)


def test_candidates_exclude_the_asking_message_and_respect_the_limit() -> None:
    matcher = RegionalMatcher()
    matcher.load(ROWS)
    assert matcher.candidates("person", arabic_query(), limit=5, excluding=str(ALERT)) == []
    assert len(matcher.candidates("person", arabic_query(), limit=5)) == 1
    assert matcher.candidates("place", {"name": "gao"}, limit=5) == []
