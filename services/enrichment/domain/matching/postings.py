"""Posting lists that stay compact: a lone record is a plain int, more become an array of uint32."""

from array import array
from collections.abc import Iterable

Posting = int | array


def add_posting(postings: dict[int, Posting], key: int, record: int) -> None:
    current = postings.get(key)
    if current is None:
        postings[key] = record
    elif type(current) is int:
        if current != record:
            postings[key] = array("I", (current, record))
    elif current[-1] != record:
        current.append(record)


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
