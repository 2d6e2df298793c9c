"""Consumer expectations (tests/contract/expectations/<consumer>.json), in the spirit of message pacts.

Each consumer states the messages it relies on: the wire type, which producer sends it, an optional
``match`` (only messages whose field has one of the values), the fields it ``reads`` with their
types, and an ``example`` payload. Types: uuid, datetime, platform, version, string, integer,
number, boolean, object, array, null, joined with ``|``. Paths: ``a.b`` for fields, ``a[]`` for
every element of a list.
"""

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

EXPECTATIONS_DIR = Path(__file__).resolve().parent / "expectations"
_MISSING = object()


def load() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(EXPECTATIONS_DIR.glob("*.json"))}


def expectations() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(id, the consumer's file, one message expectation) for every expectation."""
    out = []
    for stem, declared in load().items():
        for expectation in declared["messages"]:
            out.append((f"{declared['consumer']}:{expectation['name']}", declared, expectation))
    return out


def values_at(data: Any, path: str) -> Iterator[Any]:
    """Every value at a path (``[]`` fans out over lists); _MISSING where a field is absent."""
    parts = re.findall(r"[^.\[\]]+|\[\]", path)

    def walk(node: Any, rest: list[str]) -> Iterator[Any]:
        if not rest:
            yield node
            return
        head, tail = rest[0], rest[1:]
        if head == "[]":
            if isinstance(node, list):
                for item in node:
                    yield from walk(item, tail)
            else:
                yield _MISSING
        elif isinstance(node, dict) and head in node:
            yield from walk(node[head], tail)
        else:
            yield _MISSING

    yield from walk(data, parts)


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "platform":
        return isinstance(value, str) and re.fullmatch(r"[A-Z]{2,5}", value) is not None
    if kind == "version":
        return isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value) is not None
    if kind == "uuid":
        try:
            UUID(str(value))
        except ValueError:
            return False
        return isinstance(value, str)
    if kind == "datetime":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return False
        return isinstance(value, str)
    raise ValueError(f"unknown type {kind!r} in a consumer expectation")


def problems(body: dict[str, Any], reads: dict[str, str]) -> list[str]:
    """What a message body lacks of what a consumer reads: one line per field."""
    found = []
    for path, spec in reads.items():
        kinds = spec.split("|")
        for value in values_at(body, path):
            if value is _MISSING:
                found.append(f"{path}: missing")
            elif not any(_is(value, kind) for kind in kinds):
                found.append(f"{path}: {value!r} is not {spec}")
    return found


def matches(body: dict[str, Any], match: dict[str, list[Any]]) -> bool:
    for path, wanted in match.items():
        if not any(value in wanted for value in values_at(body, path) if value is not _MISSING):
            return False
    return True


def exercised(bodies: list[dict[str, Any]], path: str) -> bool:
    """A path through a list is verified only if some message has an element there."""
    return any(value is not _MISSING for body in bodies for value in values_at(body, path))
