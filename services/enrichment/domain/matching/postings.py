"""Posting lists that stay compact: a lone record is a plain int, more become an array of uint32; the lists are
found by 64-bit key in a PostingMap."""

from array import array
from bisect import bisect_left
from collections.abc import Iterable

Posting = int | array

_BUCKETS = 1_024
_MIX = 0x9E3779B97F4A7C15  # spreads keys whose low bits repeat (pair keys) over the buckets


class PostingMap:
    """Posting lists by 64-bit key (a hash, or two ids packed), in 1,024 sorted runs of keys searched with bisect.

    A dict of them costs about 86 bytes a key: the key's int, a lone record's int and the entry (16.6 MB of the 34 MB
    the matcher held after the benchmark's 112,000 messages, 6 Dec). Here a key and its lone record cost two 8-byte
    slots and the runs' slack."""

    def __init__(self) -> None:
        self._runs: list[tuple[array, array] | None] = [None] * _BUCKETS  # keys; a record, or ~n for `_lists[n]`
        self._lists: list[array] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def get(self, key: int) -> Posting | None:
        run = self._runs[_bucket(key)]
        if run is None:
            return None
        keys, values = run
        at = bisect_left(keys, key)
        if at == len(keys) or keys[at] != key:
            return None
        value = values[at]
        return value if value >= 0 else self._lists[~value]

    def add(self, key: int, record: int) -> None:
        bucket = _bucket(key)
        run = self._runs[bucket]
        if run is None:
            run = self._runs[bucket] = (array("q"), array("q"))
        keys, values = run
        at = bisect_left(keys, key)
        if at == len(keys) or keys[at] != key:
            keys.insert(at, key)
            values.insert(at, record)
            self._count += 1
            return
        value = values[at]
        if value >= 0:
            if value != record:
                values[at] = ~len(self._lists)
                self._lists.append(array("I", (value, record)))
        elif (posting := self._lists[~value])[-1] != record:
            posting.append(record)


def _bucket(key: int) -> int:
    return (key * _MIX >> 54) % _BUCKETS


def records_of(posting: Posting | None) -> Iterable[int]:
    if posting is None:
        return ()
    if type(posting) is int:
        return (posting,)
    return posting


def size_of(posting: Posting | None) -> int:
    if posting is None:
        return 0
    return 1 if type(posting) is int else len(posting)
