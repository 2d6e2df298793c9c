"""The matcher's set of message ids: exact, whatever the spelling of an id, at 16 bytes an id."""

import random
import tracemalloc
from uuid import UUID

import pytest

from services.enrichment.domain.message_ids import MessageIds

pytestmark = pytest.mark.unit


def ids(count: int, seed: int) -> list[UUID]:
    rng = random.Random(seed)
    return [UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]


def test_it_holds_exactly_what_a_set_would_across_many_ids_and_repeats() -> None:
    held, expected = MessageIds(), set()
    rng = random.Random(3)
    pool = ids(30_000, seed=1)
    for _ in range(60_000):
        message_id = rng.choice(pool)
        assert held.add(message_id) is (message_id not in expected)
        expected.add(message_id)
    assert len(held) == len(expected)
    assert all(message_id in held for message_id in expected)
    assert not any(message_id in held for message_id in ids(30_000, seed=2))


def test_an_id_is_the_same_whether_given_as_a_uuid_or_in_any_spelling_of_its_text() -> None:
    held = MessageIds()
    message_id = UUID("00000000-0000-4000-8000-00000000000a")
    assert held.add(str(message_id)) is True
    assert message_id in held and str(message_id).upper() in held
    assert held.add(message_id) is False and len(held) == 1


def test_ids_that_are_not_uuids_are_held_as_text() -> None:
    held = MessageIds()
    assert held.add("legacy-42") is True and held.add("legacy-42") is False
    assert "legacy-42" in held and "legacy-43" not in held
    assert len(held) == 1


def test_an_id_costs_its_sixteen_bytes_and_little_more() -> None:
    many = ids(100_000, seed=4)
    tracemalloc.start()
    try:
        held = MessageIds()
        empty, _ = tracemalloc.get_traced_memory()
        for message_id in many:
            held.add(message_id)
        full, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 16 <= (full - empty) / len(many) < 24  # a set of the ids' bytes takes about 87
