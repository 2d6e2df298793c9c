"""Rows of a few short values packed into one buffer, so a million records are not a million dicts."""

from array import array
from collections.abc import Sequence
from typing import Any

import orjson


class PackedRows:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ends = array("Q")

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, values: Sequence[Any]) -> int:
        """Stores JSON-representable values (strings, numbers, booleans, None); returns the row number."""
        self._buffer += orjson.dumps(tuple(values))
        self._ends.append(len(self._buffer))
        return len(self._ends) - 1

    def get(self, row: int) -> tuple[Any, ...]:
        start = self._ends[row - 1] if row else 0
        return tuple(orjson.loads(self._buffer[start : self._ends[row]]))

    @property
    def held_bytes(self) -> int:
        return len(self._buffer) + self._ends.itemsize * len(self._ends)
