import gc
import random
import tracemalloc

import pytest

from services.enrichment.domain.matching.name_scoring import compare_names
from services.enrichment.domain.normalise.names import parse_name

pytestmark = pytest.mark.unit

_LATIN_SYLLABLES = [c + v for c in "bcdfghklmnrstz" for v in "aeiou"]
_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def _distinct_names(rng: random.Random, count: int) -> list[str]:
    names = []
    for i in range(count):
        if i % 3:
            names.append(" ".join("".join(rng.choices(_LATIN_SYLLABLES, k=rng.randint(2, 4))).capitalize() for _ in range(3)))
        else:
            names.append(" ".join("".join(rng.choices(_ARABIC_LETTERS, k=rng.randint(3, 6))) for _ in range(3)))
    return names


def test_a_stream_of_names_never_seen_before_leaves_the_name_caches_bounded() -> None:
    """The caches of parsing and comparing names are what a long-running hub keeps of every name it met: full,
    they must stay a small part of the service's memory, however many distinct names pass."""
    rng = random.Random(5)
    names = _distinct_names(rng, 20_000)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        parsed = [parse_name(name) for name in names]
        for _ in range(20_000):
            compare_names(rng.choice(parsed), rng.choice(parsed))
        del parsed
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (kept - before) / 1e6 < 64
