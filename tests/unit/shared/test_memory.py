import gc
import platform
import weakref
from collections.abc import Iterator

import pytest

from shared.memory import GiveBackWhenIdle, _malloc_trim, freeze_long_lived_objects

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


def test_freed_memory_is_given_back_once_work_is_followed_by_a_quiet_interval() -> None:
    decision = GiveBackWhenIdle(busy_cpu_seconds=1.0, quiet_cpu_seconds=0.05)
    looks = [0.0, 0.4, 0.9, 1.5, 1.52, 1.53, 1.6, 2.0, 2.7, 2.71]
    assert [decision.due(cpu) for cpu in looks] == [
        False,  # the first look only sets the marks
        False, False, False,  # at work
        True,  # quiet after 1.5 s of work
        False,  # still quiet: nothing more was freed
        False, False, False,  # at work again, 1.2 s since the last give-back
        True,
    ]


def test_a_process_never_quiet_never_gives_back_and_a_quiet_one_at_most_once_a_cpu_second() -> None:
    busy = GiveBackWhenIdle(busy_cpu_seconds=1.0, quiet_cpu_seconds=0.05)
    assert not any(busy.due(0.1 * look) for look in range(1_000))  # 0.1 s of CPU every interval
    idle = GiveBackWhenIdle(busy_cpu_seconds=1.0, quiet_cpu_seconds=0.05)
    assert sum(idle.due(0.01 * look) for look in range(1_001)) == 10  # 10 s of CPU in quiet slices of 0.01 s


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_gives_back_through_malloc_trim() -> None:
    trim = _malloc_trim()
    assert trim is not None and trim(0) in (0, 1)
