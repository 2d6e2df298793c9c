import gc
import weakref
from collections.abc import Iterator

import pytest

from shared.memory import freeze_long_lived_objects

pytestmark = pytest.mark.unit


class Node:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def thawed_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


def tracked_ids() -> set[int]:
    return {id(obj) for obj in gc.get_objects()}


def test_what_is_alive_at_the_freeze_is_left_out_of_later_collections(thawed_afterwards: None) -> None:
    loaded = [[position] for position in range(1_000)]
    assert id(loaded[0]) in tracked_ids()

    frozen = freeze_long_lived_objects()

    assert frozen >= len(loaded)
    walked = tracked_ids()
    assert not any(id(item) in walked for item in loaded)


def test_a_cycle_made_after_the_freeze_is_still_collected(thawed_afterwards: None) -> None:
    freeze_long_lived_objects()
    node = Node()
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


def test_a_cycle_dropped_before_the_freeze_is_collected_not_kept(thawed_afterwards: None) -> None:
    node = Node()
    gone = weakref.ref(node)
    del node
    freeze_long_lived_objects()
    assert gone() is None
