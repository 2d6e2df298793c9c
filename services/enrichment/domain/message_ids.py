"""MessageIds: the set of message ids the in-memory matcher holds, at about 17 bytes an id.

A Python set of 16-byte keys costs about 90 bytes an id (a bytes object and its slot): 9.7 MB of the 34 MB the
matcher held after the benchmark's 112,000 messages (6 Dec), and 90 MB for a million. Here an id is its two 64-bit
halves, in one of 1,024 runs kept sorted by the first half and searched with bisect.
"""

from array import array
from bisect import bisect_left
from uuid import UUID

_BUCKETS = 1_024
_LOW = (1 << 64) - 1


class MessageIds:
    def __init__(self) -> None:
        self._runs: list[tuple[array, array] | None] = [None] * _BUCKETS  # first halves, second halves
        self._irregular: set[str] = set()  # ids that are not UUIDs, as some stored rows may have
        self._count = 0

    def __len__(self) -> int:
        return self._count + len(self._irregular)

    def __contains__(self, message_id: UUID | str) -> bool:
        value = _value(message_id)
        if value is None:
            return str(message_id) in self._irregular
        return self._find(value)[2]

    def add(self, message_id: UUID | str) -> bool:
        """True if the id was not held before."""
        value = _value(message_id)
        if value is None:
            text = str(message_id)
            if text in self._irregular:
                return False
            self._irregular.add(text)
            return True
        bucket, at, held = self._find(value)
        if held:
            return False
        run = self._runs[bucket]
        if run is None:
            run = self._runs[bucket] = (array("Q"), array("Q"))
        run[0].insert(at, value >> 64)
        run[1].insert(at, value & _LOW)
        self._count += 1
        return True

    def _find(self, value: int) -> tuple[int, int, bool]:
        """The id's run, where it is or would go in it, and whether it is there."""
        bucket = ((value >> 64) ^ value) % _BUCKETS
        run = self._runs[bucket]
        if run is None:
            return bucket, 0, False
        highs, lows = run
        high, low = value >> 64, value & _LOW
        at = bisect_left(highs, high)
        while at < len(highs) and highs[at] == high:  # ids sharing a first half: next to each other, in any order
            if lows[at] == low:
                return bucket, at, True
            at += 1
        return bucket, at, False


def _value(message_id: UUID | str) -> int | None:
    if isinstance(message_id, UUID):
        return message_id.int
    try:
        return UUID(str(message_id)).int
    except ValueError:
        return None
