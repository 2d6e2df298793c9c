"""Rows as the column arrays an `INSERT ... SELECT FROM unnest($1::t[], $2::u[], ...)` statement takes."""

from collections.abc import Iterable, Sequence
from typing import Any


def columns(rows: Iterable[Sequence[Any]], width: int = 0) -> list[list[Any]]:
    """One list per column, in row order; every row must have the same length. No rows: `width` empty columns."""
    found = [list(column) for column in zip(*rows, strict=True)]
    return found or [[] for _ in range(width)]
