"""The in-memory matcher catches up with the store: what was committed without reaching it is added, once."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from shared.contracts.entities import Entities
from services.enrichment.bootstrap import rebuild
from services.enrichment.catch_up import CatchUpRounds, CatchUpWindow, catch_up, keep_caught_up
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.domain.regional import RegionalMatcher
from services.enrichment.fakes import InMemoryRegionalIndex
from services.enrichment.ports import MessageToIndex

pytestmark = pytest.mark.unit

WANTED = {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"}]}
SEEN_IN_ARABIC = {"persons": [{"names": ["محمد ولد أحمد"], "birth_date": "1985"}]}


def entities(body: dict) -> list:
    return normalise_entities(Entities.model_validate(body), reporting_country="NE")


async def stored_and_fed(store: InMemoryRegionalIndex, matcher: RegionalMatcher, body: dict, *, fed: bool = True):
    message_id = uuid4()
    found = entities(body)
    await store.index_many([MessageToIndex(message_id, "NE", "H0", found)])
    if fed:
        matcher.add_message(message_id, "NE", [(str(e.entity_type), e.position, e.canonical) for e in found])
    return message_id


async def test_a_message_stored_without_reaching_the_matcher_is_added_by_the_next_round() -> None:
    store, matcher = InMemoryRegionalIndex(), RegionalMatcher()
    rebuilt = await rebuild(matcher, store, batch_size=10)
    await stored_and_fed(store, matcher, {"phones": [{"number": "+227 90 12 34 56"}]})
    lost = await stored_and_fed(store, matcher, WANTED, fed=False)  # its COMMIT went through, its feeding did not

    newest, added = await catch_up(matcher, store, after=rebuilt.newest)

    assert (added, newest, matcher.messages) == (1, 2, 2)
    [query] = entities(SEEN_IN_ARABIC)
    [top] = matcher.candidates("person", query.canonical, limit=1)
    assert (top.ref.message_id, top.outcome) == (str(lost), "hit")
    assert await catch_up(matcher, store, after=rebuilt.newest) == (2, 0)  # held now: read again, added never
    assert len(matcher) == 2


async def test_a_round_reads_only_what_was_stored_after_its_floor() -> None:
    store, matcher = InMemoryRegionalIndex(), RegionalMatcher()
    await stored_and_fed(store, matcher, WANTED, fed=False)
    await stored_and_fed(store, matcher, {"places": [{"name": "Gao"}]}, fed=False)  # nothing to match: never added

    assert await catch_up(matcher, store, after=1) == (1, 0)
    assert await catch_up(matcher, store, after=0) == (1, 1)


def test_each_stretch_of_the_store_is_read_by_two_rounds() -> None:
    window = CatchUpWindow(floor=10, newest=10)
    window.after_round(25)
    assert window.floor == 10  # a row placed at 20 whose transaction commits after this round is read next round
    window.after_round(40)
    assert (window.floor, window.newest) == (25, 40)
    window.after_round(40)
    assert (window.floor, window.newest) == (40, 40)
    window.after_round(7)  # rows removed meanwhile never move the window back
    assert (window.floor, window.newest) == (40, 40)


class GoneOnce(InMemoryRegionalIndex):
    """A store whose first answer is lost, as when the database restarts."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    async def stored_since(self, seq: int, **options):
        self.asked += 1
        if self.asked == 1:
            raise ConnectionResetError("the database went away")
        return await super().stored_since(seq, **options)


async def test_a_failed_round_leaves_the_next_one_to_add_what_it_missed_and_health_tells_both() -> None:
    store, matcher, rounds = GoneOnce(), RegionalMatcher(), CatchUpRounds()
    matcher.finish_loading()
    await stored_and_fed(store, matcher, WANTED, fed=False)
    at = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)

    task = asyncio.create_task(keep_caught_up(matcher, store, since=0, every_seconds=0.001, rounds=rounds,
                                              clock=lambda: at))
    try:
        for _ in range(1_000):
            if rounds.rounds:
                break
            await asyncio.sleep(0.001)
        assert not task.done()
    finally:
        task.cancel()
    assert (matcher.messages, store.asked) == (1, 2)
    assert rounds.view() == {"rounds": 1, "messages_added": 1, "last_round_at": "2026-12-06T09:30:00+00:00",
                             "last_error": None}


def test_health_shows_the_last_failure_and_nothing_before_the_first_round() -> None:
    rounds = CatchUpRounds(rounds=3, messages_added=0, last_error="ConnectionResetError('the database went away')")
    assert rounds.view()["last_error"] == "ConnectionResetError('the database went away')"
    assert CatchUpRounds().view() == {"rounds": 0, "messages_added": 0, "last_round_at": None, "last_error": None}
