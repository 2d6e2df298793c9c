"""Rows as the column arrays an `INSERT ... SELECT FROM unnest($1::t[], $2::u[], ...)` statement takes."""

from collections.abc import Iterable, Sequence
from typing import Any


def columns(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """One list per column, in row order; every row must have the same length. No rows: no columns."""
    return [list(column) for column in zip(*rows, strict=True)]
