"""Posting lists by 64-bit key: what a dict of them gave, in a fraction of the memory."""

import random
import sys
import tracemalloc
from array import array

import pytest

from services.enrichment.domain.matching.postings import PostingMap, records_of, size_of

pytestmark = pytest.mark.unit


def test_it_answers_as_a_dict_of_posting_lists_would() -> None:
    rng = random.Random(5)
    keys = [rng.randrange(-2**63, 2**63) for _ in range(3_000)] + [-1, 0, 1, 2**63 - 1, -2**63]
    keys += [a << 24 | b for a in range(40) for b in range(a + 1, 40)]  # pair keys: low bits repeat
    postings, expected = PostingMap(), {}
    for record in range(20_000):
        for key in rng.sample(keys, 3):
            postings.add(key, record)
            expected.setdefault(key, []).append(record)
        if rng.random() < 0.1:  # the same record under the same key again adds nothing
            postings.add(key, record)
    assert len(postings) == len(expected)
    for key, records in expected.items():
        assert list(records_of(postings.get(key))) == records
        assert size_of(postings.get(key)) == len(records)
    assert postings.get(12345) is None and postings.get(-(2**62)) is None


def test_a_lone_record_is_kept_as_an_int_and_more_as_an_array() -> None:
    postings = PostingMap()
    postings.add(7, 3)
    assert postings.get(7) == 3
    postings.add(7, 9)
    assert postings.get(7) == array("I", [3, 9])


def test_a_key_outside_64_bits_is_refused() -> None:
    with pytest.raises(OverflowError):
        PostingMap().add(2**63, 1)


def test_a_key_with_its_lone_record_costs_under_a_third_of_what_a_dict_took() -> None:
    keys = [hash(f"platenum:{i:06d}-NE") for i in range(100_000)]
    tracemalloc.start()
    try:
        postings = PostingMap()
        empty, _ = tracemalloc.get_traced_memory()
        for record, key in enumerate(keys):
            postings.add(key, record + 2**20)
        full, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sys.hash_info.width == 64
    assert (full - empty) / len(keys) < 86 / 3  # a dict of them: the key's int, the record's int and the entry
