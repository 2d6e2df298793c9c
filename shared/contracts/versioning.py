"""Contract versions: what a consumer accepts, and what a change to the contracts may do without a major bump.

    python -m shared.contracts.versioning check     # exit 1 on a breaking change without a major bump
    python -m shared.contracts.versioning release   # freeze schemas/<SCHEMA_VERSION>/ (done by `make contracts`)
    python -m shared.contracts.versioning diff OLD_DIR NEW_DIR

The rules (the README's "Contracts" section says the same):

* Every message carries its contract version ``major.minor``: messages (``pcms.message``) in
  ``schema_version``, events that carry a message also in ``message.schema_version``, and every
  AMQP message in the ``x-pcms-schema-version`` header. A message without any is ``1.0``.
* A consumer accepts every minor version of its own major and refuses any other major, with a
  reason that names both versions (``IncompatibleVersion``; the runtime quarantines it).
* Within a major, a message of the consumer's own or an older minor is read strictly (an unknown
  field is an error, as ever). A message of a *newer* minor is read ignoring the fields the
  consumer does not know: they were added by that minor, and additive changes are the only ones a
  minor may make.
* Additive change = a new optional field, a new contract (wire type), documentation. It bumps the
  minor. Anything else - a field removed, retyped, made required or optional, a new required field,
  an enum value added or removed, a constraint tightened or loosened, a new message kind - bumps
  the major, because states upgrade one at a time and both directions must keep working
  (FULL compatibility: BACKWARD, new readers read old messages; FORWARD, old readers read new ones).
* Released schemas are frozen in ``shared/contracts/schemas/<major.minor>/``. The check compares
  the contracts in the code with every release of the current major, and with the release of the
  current version itself (which may then only differ in documentation).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import total_ordering
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from shared.contracts.base import SCHEMA_VERSION

VERSION_HEADER = "x-pcms-schema-version"
LEGACY_VERSION = "1.0"  # what a message that names no version is
SCHEMAS_ROOT = Path(__file__).resolve().parent / "schemas"
REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS_DIR = REPO_ROOT / "tests" / "contract" / "expectations"

BACKWARD = "backward"
FORWARD = "forward"
MODES: dict[str, frozenset[str]] = {
    "full": frozenset({BACKWARD, FORWARD}),
    "backward": frozenset({BACKWARD}),
    "forward": frozenset({FORWARD}),
}
_VERSION = re.compile(r"^(\d+)\.(\d+)$", re.ASCII)  # as in JSON Schema: \d is 0-9, not every script's digits

T = TypeVar("T")


# --- versions ------------------------------------------------------------------------------------


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(str(text).strip())
        if match is None:
            raise ValueError(f"{text!r} is not a contract version (major.minor, e.g. 1.0)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)


CURRENT = Version.parse(SCHEMA_VERSION)


class IncompatibleVersion(ValueError):
    """A message of another major version (or with an unreadable version): the consumer refuses it."""


def accept_version(received: str | Version, *, own: Version = CURRENT, where: str = "schema_version") -> Version:
    """The version of a received message if this consumer may read it; IncompatibleVersion otherwise."""
    try:
        version = received if isinstance(received, Version) else Version.parse(received)
    except ValueError:
        raise IncompatibleVersion(f"{where} {received!r} is not a contract version (major.minor)") from None
    if version.major != own.major:
        raise IncompatibleVersion(
            f"{where} {version} is of major version {version.major}; this consumer reads major version "
            f"{own.major} only (its contracts are {own}): a message of another major version is refused, "
            f"not guessed at - upgrade the consumer, or have the producer send {own.major}.x"
        )
    return version


def message_version(data: Any, headers: Mapping[str, Any] | None = None, *, own: Version = CURRENT) -> Version:
    """The newest version a received message names, after checking that every one is of the consumer's major.

    Looks at the AMQP header, the body's ``schema_version`` and the carried ``message.schema_version``.
    A body version that is not major.minor is left to the contract (its pattern rejects it with the field path).
    """
    carried = _get(data.get("message"), "schema_version") if isinstance(data, Mapping) else None
    return _newest(headers, _get(data, "schema_version"), carried, own=own)


def _newest(headers: Mapping[str, Any] | None, body_version: Any, carried_version: Any, *, own: Version) -> Version:
    raw = (headers or {}).get(VERSION_HEADER)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    named = (None if raw is None else str(raw), body_version if isinstance(body_version, str) else None,
             carried_version if isinstance(carried_version, str) else None)
    if any(text is not None and len(text) > _REMEMBERED_LENGTH for text in named):
        return _newest_named.__wrapped__(*named, own)  # a stranger's long text is judged, never kept
    return _newest_named(*named, own)


_REMEMBERED_LENGTH = 32


@functools.lru_cache(maxsize=256)
def _newest_named(header: str | None, body_version: str | None, carried_version: str | None, own: Version) -> Version:
    """Every consumed message names the same few versions: each combination is judged once (a refusal, an
    IncompatibleVersion, is not remembered and is raised again each time)."""
    found: list[Version] = []
    if header is not None:
        found.append(accept_version(header, own=own, where=f"header {VERSION_HEADER}"))
    for where, value in (("schema_version", body_version), ("message.schema_version", carried_version)):
        if value is not None and _VERSION.match(value.strip()):
            found.append(accept_version(value, own=own, where=where))
    return max(found, default=Version.parse(LEGACY_VERSION))


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def parse_versioned(
    validate_json: Callable[..., T], body: bytes | str, headers: Mapping[str, Any] | None = None,
    *, own: Version = CURRENT,
) -> T:
    """Parses a received body with a contract's validate_json, applying the version rules.

    Raises IncompatibleVersion for another major, pydantic.ValidationError for a body that breaks the
    contract. Unknown fields are ignored only when the message is of a newer minor than ``own``.

    Almost every message reads strictly, so that is tried first and the versions it names are checked on
    the result; only a message that does not read strictly is parsed as JSON to find its version first.
    """
    try:
        parsed = validate_json(body)
    except ValidationError:
        pass
    else:
        carried = getattr(getattr(parsed, "message", None), "schema_version", None)
        _newest(headers, getattr(parsed, "schema_version", None), carried, own=own)  # refuses another major
        return parsed
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        # not JSON, or nested deeper than Python's parser goes: the contract's own parser refuses it with a
        # ValidationError (its recursion limit is far lower), which the runtime quarantines
        return validate_json(body)
    version = message_version(data, headers, own=own)
    if version.minor <= own.minor:
        return validate_json(body)
    return validate_ignoring_unknown_fields(validate_json, body, data)


def validate_ignoring_unknown_fields(validate_json: Callable[..., T], body: bytes | str, data: Any = None) -> T:
    """validate_json, with the fields the contracts do not know dropped at any depth (everything else strict)."""
    try:
        return validate_json(body, extra="ignore")
    except TypeError:  # pydantic < 2.11 has no per-call `extra`: drop what it reports as extra, then validate
        pass
    data = json.loads(body) if data is None else data
    for _ in range(50):
        try:
            return validate_json(json.dumps(data))
        except ValidationError as error:
            extras = [item["loc"] for item in error.errors() if item["type"] == "extra_forbidden"]
            if not extras or not all(_drop(data, loc) for loc in extras):
                raise
    return validate_json(json.dumps(data))


def _drop(data: Any, loc: Sequence[Any]) -> bool:
    """Removes the key at a pydantic error location; union tags in the location (alert, ...) are skipped."""
    node = data
    for part in loc[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        # else: a union tag or model name pydantic adds to the location; stay on this node
    if isinstance(node, dict) and loc and loc[-1] in node:
        del node[loc[-1]]
        return True
    return False


# --- comparing schemas ---------------------------------------------------------------------------

DOC_KEYWORDS = frozenset({"title", "description", "examples", "example", "$comment", "x-schema-version", "$schema",
                          "deprecated", "readOnly", "writeOnly", "$defs", "definitions"})
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_RESTRICTIONS = ("pattern", "format", "multipleOf", "uniqueItems", "contentEncoding", "contentMediaType")
_HANDLED = frozenset({"$ref", "anyOf", "oneOf", "allOf", "discriminator", "type", "enum", "const", "properties",
                      "required", "additionalProperties", "items", "prefixItems", "default",
                      *_LOWER_BOUNDS, *_UPPER_BOUNDS, *_RESTRICTIONS})


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a contract that matters to a reader."""

    contract: str  # schema file stem: message, message_enriched, ...
    path: str  # from the contract's root: body.alert_type, message<alert>.body..., hits[].score
    where: str  # Model.field
    kind: str
    detail: str
    breaks: frozenset[str] = frozenset()  # BACKWARD and/or FORWARD; empty: additive

    @property
    def additive(self) -> bool:
        return not self.breaks

    def describe(self) -> str:
        return f"{self.where} ({self.contract}: {self.path or '<root>'}): {self.kind}: {self.detail}"


def _both() -> frozenset[str]:
    return frozenset({BACKWARD, FORWARD})


class _SchemaComparison:
    def __init__(self, contract: str, old_doc: dict[str, Any], new_doc: dict[str, Any]) -> None:
        self.contract = contract
        self.old_doc = old_doc
        self.new_doc = new_doc
        self.changes: list[Change] = []
        self._seen: set[tuple[str, str, str, str]] = set()

    def add(self, path: str, where: str, kind: str, detail: str, breaks: Iterable[str]) -> None:
        key = (where, kind, detail, ",".join(sorted(breaks)))
        if key not in self._seen:
            self._seen.add(key)
            self.changes.append(Change(self.contract, path, where, kind, detail, frozenset(breaks)))

    @staticmethod
    def _resolve(node: Any, doc: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        name = None
        node = dict(node) if isinstance(node, dict) else {}
        for _ in range(20):
            if "$ref" in node:
                ref = node.pop("$ref")
                name = ref.rsplit("/", 1)[-1]
                target = doc.get("$defs", {}).get(name) or doc.get("definitions", {}).get(name) or {}
                node = {**target, **node}
            elif "allOf" in node and len(node["allOf"]) == 1:
                inner = node.pop("allOf")[0]
                node = {**inner, **node}
            else:
                break
        return node, name

    @staticmethod
    def _split_null(node: dict[str, Any]) -> tuple[dict[str, Any], bool, list[Any] | None]:
        """(node without the null branch, nullable, the alternatives when several remain)."""
        types = node.get("type")
        if isinstance(types, list) and "null" in types:
            rest = [t for t in types if t != "null"]
            node = {**node, "type": rest[0] if len(rest) == 1 else rest}
            return node, True, None
        key = "anyOf" if "anyOf" in node else "oneOf" if "oneOf" in node and "discriminator" not in node else None
        if key is None:
            return node, node.get("type") == "null", None
        alternatives = node[key]
        non_null = [a for a in alternatives if not (isinstance(a, dict) and a.get("type") == "null")]
        nullable = len(non_null) < len(alternatives)
        base = {k: v for k, v in node.items() if k != key}
        if len(non_null) == 1:
            return {**non_null[0], **base}, nullable, None
        return base, nullable, non_null

    def compare(self, old: Any, new: Any, path: str, where: str, stack: tuple[tuple[str | None, str | None], ...] = ()) -> None:
        o, old_name = self._resolve(old, self.old_doc)
        n, new_name = self._resolve(new, self.new_doc)
        model = new_name or old_name
        if model is not None:
            if (old_name, new_name) in stack:
                return
            stack = (*stack, (old_name, new_name))
        o, old_null, old_alts = self._split_null(o)
        n, new_null, new_alts = self._split_null(n)
        # the alternatives may themselves be references: resolve them once more
        if old_alts is None:
            o2, old_name2 = self._resolve(o, self.old_doc)
            o, old_name = o2, old_name2 or old_name
        if new_alts is None:
            n2, new_name2 = self._resolve(n, self.new_doc)
            n, new_name = n2, new_name2 or new_name
        model = new_name or old_name or model
        if old_null != new_null:
            if new_null:
                self.add(path, where, "now nullable", "null is now allowed: readers of the old version refuse it", {FORWARD})
            else:
                self.add(path, where, "no longer nullable", "null was allowed: readers of the new version refuse old messages carrying it", {BACKWARD})
        if old_alts is not None or new_alts is not None:
            self._compare_alternatives(old_alts, new_alts, path, where)
            self._compare_keywords(o, n, path, where, model, stack, skip={"properties", "required", "type"})
            return
        self._compare_keywords(o, n, path, where, model, stack)

    def _compare_alternatives(self, old: list[Any] | None, new: list[Any] | None, path: str, where: str) -> None:
        if old is None or new is None:
            self.add(path, where, "retyped", "changed between one type and a union of types", _both())
            return
        canon_old = {self._canonical(a, self.old_doc) for a in old}
        canon_new = {self._canonical(a, self.new_doc) for a in new}
        if canon_old - canon_new:
            self.add(path, where, "union narrowed", f"alternatives removed: {sorted(canon_old - canon_new)}", {BACKWARD})
        if canon_new - canon_old:
            self.add(path, where, "union widened", f"alternatives added: {sorted(canon_new - canon_old)}", {FORWARD})

    def _canonical(self, node: Any, doc: dict[str, Any]) -> str:
        resolved, name = self._resolve(node, doc)
        if name is not None:
            return f"#{name}"
        return json.dumps(_strip_docs(resolved), sort_keys=True)

    def _compare_keywords(
        self, o: dict[str, Any], n: dict[str, Any], path: str, where: str, model: str | None,
        stack: tuple[tuple[str | None, str | None], ...], skip: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        # discriminated unions: the message kinds
        if "discriminator" in o or "discriminator" in n:
            self._compare_discriminated(o, n, path, where, stack)
            return
        if "type" not in skip:
            old_types, new_types = _types(o), _types(n)
            if old_types != new_types and not (old_types == {"integer"} and new_types == {"number"}):
                self.add(path, where, "retyped", f"type {sorted(old_types) or 'any'} -> {sorted(new_types) or 'any'}", _both())
                return
            if old_types != new_types:
                self.add(path, where, "widened", "integer -> number: readers of the old version refuse fractions", {FORWARD})
        if "enum" in o or "enum" in n:
            old_values, new_values = o.get("enum"), n.get("enum")
            if old_values is None or new_values is None:
                self.add(path, where, "enum " + ("removed" if new_values is None else "added"),
                         f"{old_values} -> {new_values}", {FORWARD} if new_values is None else {BACKWARD})
            else:
                removed = [v for v in old_values if v not in new_values]
                added = [v for v in new_values if v not in old_values]
                if removed:
                    self.add(path, where, "enum narrowed", f"values removed: {removed}", {BACKWARD})
                if added:
                    self.add(path, where, "enum widened", f"values added: {added} (readers of the old version refuse them)", {FORWARD})
        if o.get("const", _MISSING) != n.get("const", _MISSING):
            self.add(path, where, "constant changed", f"{o.get('const')!r} -> {n.get('const')!r}", _both())
        for key in _LOWER_BOUNDS:
            self._bound(o, n, key, path, where, tighter=lambda old, new: new > old)
        for key in _UPPER_BOUNDS:
            self._bound(o, n, key, path, where, tighter=lambda old, new: new < old)
        for key in _RESTRICTIONS:
            if o.get(key, _MISSING) != n.get(key, _MISSING):
                if key not in o:
                    self.add(path, where, f"{key} added", f"{n[key]!r}", {BACKWARD})
                elif key not in n:
                    self.add(path, where, f"{key} removed", f"was {o[key]!r}", {FORWARD})
                else:
                    self.add(path, where, f"{key} changed", f"{o[key]!r} -> {n[key]!r}", _both())
        version_marker = path.rsplit(".", 1)[-1] == "schema_version"  # its default is the release itself
        if "default" not in skip and not version_marker and o.get("default", _MISSING) != n.get("default", _MISSING):
            self.add(path, where, "default changed", f"{o.get('default', '<none>')!r} -> {n.get('default', '<none>')!r}: "
                     "a message without the field means something else", _both())
        if "properties" not in skip and ("properties" in o or "properties" in n or "additionalProperties" in o
                                         or "additionalProperties" in n):
            self._compare_object(o, n, path, model or where.split(".")[0], stack)
        if "items" in o or "items" in n:
            if isinstance(o.get("items"), dict) and isinstance(n.get("items"), dict):
                self.compare(o["items"], n["items"], f"{path}[]", where, stack)
            elif o.get("items") != n.get("items"):
                self.add(path, where, "items changed", f"{o.get('items')!r} -> {n.get('items')!r}", _both())
        if o.get("prefixItems") != n.get("prefixItems"):
            self.add(path, where, "tuple items changed", "prefixItems differ", _both())
        for key in sorted((set(o) | set(n)) - _HANDLED - DOC_KEYWORDS):
            if _strip_docs(o.get(key)) != _strip_docs(n.get(key)):
                self.add(path, where, f"{key} changed", f"{o.get(key)!r} -> {n.get(key)!r}", _both())

    def _bound(self, o: dict[str, Any], n: dict[str, Any], key: str, path: str, where: str,
               tighter: Callable[[Any, Any], bool]) -> None:
        old, new = o.get(key), n.get(key)
        if old == new:
            return
        if old is None:
            self.add(path, where, "constraint tightened", f"{key} {new} added", {BACKWARD})
        elif new is None:
            self.add(path, where, "constraint loosened", f"{key} {old} removed (readers of the old version refuse what it allowed)", {FORWARD})
        elif tighter(old, new):
            self.add(path, where, "constraint tightened", f"{key} {old} -> {new}", {BACKWARD})
        else:
            self.add(path, where, "constraint loosened", f"{key} {old} -> {new} (readers of the old version refuse the new values)", {FORWARD})

    def _compare_discriminated(self, o: dict[str, Any], n: dict[str, Any], path: str, where: str,
                               stack: tuple[tuple[str | None, str | None], ...]) -> None:
        old_d, new_d = o.get("discriminator") or {}, n.get("discriminator") or {}
        if old_d.get("propertyName") != new_d.get("propertyName") or not old_d or not new_d:
            self.add(path, where, "retyped", "the union's discriminator changed", _both())
            return
        old_map, new_map = old_d.get("mapping", {}), new_d.get("mapping", {})
        if removed := sorted(old_map.keys() - new_map.keys()):
            self.add(path, where, "kinds removed", f"{old_d['propertyName']} values {removed}", {BACKWARD})
        if added := sorted(new_map.keys() - old_map.keys()):
            self.add(path, where, "kinds added", f"{old_d['propertyName']} values {added} (readers of the old version refuse them)", {FORWARD})
        for tag in sorted(old_map.keys() & new_map.keys()):
            self.compare({"$ref": old_map[tag]}, {"$ref": new_map[tag]}, f"{path}<{tag}>", where, stack)

    def _compare_object(self, o: dict[str, Any], n: dict[str, Any], path: str, model: str,
                        stack: tuple[tuple[str | None, str | None], ...]) -> None:
        old_props, new_props = o.get("properties", {}), n.get("properties", {})
        old_req, new_req = set(o.get("required", [])), set(n.get("required", []))
        prefix = f"{path}." if path else ""
        for name in sorted(old_props.keys() - new_props.keys()):
            if name in old_req:
                self.add(prefix + name, f"{model}.{name}", "required field removed", "readers of the old version need it; "
                         "readers of the new version refuse old messages carrying it", _both())
            else:
                self.add(prefix + name, f"{model}.{name}", "field removed", "readers of the new version refuse old "
                         "messages carrying it (unknown field)", {BACKWARD})
        for name in sorted(new_props.keys() - old_props.keys()):
            if name in new_req:
                self.add(prefix + name, f"{model}.{name}", "new required field", "old messages do not carry it", {BACKWARD})
            else:
                self.add(prefix + name, f"{model}.{name}", "new optional field", "additive: bump the minor", ())
        for name in sorted(old_props.keys() & new_props.keys()):
            if name in new_req and name not in old_req:
                self.add(prefix + name, f"{model}.{name}", "field became required", "old messages may lack it", {BACKWARD})
            elif name in old_req and name not in new_req:
                self.add(prefix + name, f"{model}.{name}", "field became optional",
                         "new messages may lack it; readers of the old version need it", {FORWARD})
            self.compare(old_props[name], new_props[name], prefix + name, f"{model}.{name}", stack)
        old_extra, new_extra = o.get("additionalProperties", True), n.get("additionalProperties", True)
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{path}{{}}", model, stack)
        elif old_extra != new_extra:
            if old_extra is False:
                self.add(path, model, "now accepts other fields", "readers of the old version refuse them", {FORWARD})
            elif new_extra is False:
                self.add(path, model, "now refuses other fields", "old messages may carry them", {BACKWARD})
            else:
                self.add(path, model, "values retyped", f"{old_extra!r} -> {new_extra!r}", _both())


class _Missing:
    def __repr__(self) -> str:
        return "<none>"


_MISSING = _Missing()


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if kind is None:
        if "properties" in node:
            return {"object"}
        return set()
    return set(kind) if isinstance(kind, list) else {kind}


def _strip_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_docs(v) for k, v in value.items() if k not in DOC_KEYWORDS}
    if isinstance(value, list):
        return [_strip_docs(v) for v in value]
    return value


def compare_schemas(contract: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed for readers between two JSON Schemas of one contract (documentation is ignored)."""
    comparison = _SchemaComparison(contract, old, new)
    comparison.compare(old, new, "", old.get("title") or new.get("title") or contract)
    return comparison.changes


def compare_sets(old: Mapping[str, dict[str, Any]], new: Mapping[str, dict[str, Any]]) -> list[Change]:
    """Changes between two sets of schemas ({file name: schema}), contract by contract."""
    changes: list[Change] = []
    for name in sorted(old.keys() | new.keys()):
        stem = name.removesuffix(".json")
        if name not in new:
            changes.append(Change(stem, "", old[name].get("title", stem), "contract removed",
                                  "its readers can no longer parse it", _both()))
        elif name not in old:
            changes.append(Change(stem, "", new[name].get("title", stem), "new contract", "additive: bump the minor"))
        else:
            changes.extend(compare_schemas(stem, old[name], new[name]))
    return changes


# --- releases and the check ----------------------------------------------------------------------


def load_schemas(directory: Path) -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))}


def releases(root: Path = SCHEMAS_ROOT) -> dict[Version, Path]:
    """Released schema folders: schemas/<major.minor>/, oldest first."""
    found = {}
    if root.is_dir():
        for path in root.iterdir():
            if path.is_dir() and _VERSION.match(path.name):
                found[Version.parse(path.name)] = path
    return dict(sorted(found.items()))


def release_dir(version: Version = CURRENT, root: Path = SCHEMAS_ROOT) -> Path:
    return root / str(version)


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _readers(change: Change) -> str:
    from shared.contracts.catalogue import readers_of_contract  # late: the catalogue imports the registry

    return readers_of_contract(change.contract, change.path, expectations_dir=EXPECTATIONS_DIR)


def _explain(change: Change, mode: frozenset[str]) -> str:
    why = []
    if BACKWARD in change.breaks & mode:
        why.append("BACKWARD: consumers upgraded to the new contracts refuse messages still sent by the old version")
    if FORWARD in change.breaks & mode:
        why.append("FORWARD: consumers still at the old version refuse messages the new version sends")
    return (f"  - {change.describe()}\n      breaks {'; '.join(why)}\n      read by {_readers(change)}")


def check(
    current: Mapping[str, dict[str, Any]] | None = None,
    *,
    version: Version = CURRENT,
    root: Path = SCHEMAS_ROOT,
    mode: str = "full",
) -> Verdict:
    """Compares the contracts in the code (``current``) with the released schemas under ``root``."""
    if current is None:
        from shared.contracts.generate import current_schemas

        current = current_schemas()
    wanted = MODES[mode]
    verdict = Verdict()
    released = releases(root)
    if not released:
        verdict.problems.append(f"no released schemas under {root}: run `make contracts` to release {version}")
        return verdict
    latest = max(released)
    if version < latest:
        verdict.problems.append(f"SCHEMA_VERSION {version} is older than the latest release {latest}: versions only go up")
    same_major = {v: p for v, p in released.items() if v.major == version.major}
    if version not in released:
        verdict.problems.append(
            f"release {version} (SCHEMA_VERSION) is not frozen under {release_dir(version, root)}: run `make contracts` "
            "and commit the folder, with fixtures of its messages under tests/contract/fixtures/"
            f"{version}/")
    for released_version, path in same_major.items():
        changes = compare_sets(load_schemas(path), current)
        breaking = [c for c in changes if c.breaks & wanted]
        if released_version == version:
            if changes:
                lines = "\n".join(_explain(c, wanted) if c.breaks & wanted else f"  - {c.describe()}" for c in changes)
                bump = Version(version.major + 1, 0) if breaking else Version(version.major, version.minor + 1)
                verdict.problems.append(
                    f"the contracts differ from release {version}, which is frozen: "
                    f"{'breaking' if breaking else 'additive'} changes need SCHEMA_VERSION {bump} "
                    f"(shared/contracts/base.py) and `make contracts`:\n{lines}")
        elif breaking:
            lines = "\n".join(_explain(c, wanted) for c in breaking)
            verdict.problems.append(
                f"{len(breaking)} breaking change(s) since release {released_version} without a major bump "
                f"(SCHEMA_VERSION is {version}; mode {mode.upper()}): make the change additive (a new optional field), "
                f"or bump SCHEMA_VERSION to {version.major + 1}.0:\n{lines}")
        else:
            additive = [c for c in changes if c.additive]
            verdict.notes.append(f"compatible with release {released_version} ({len(additive)} additive change(s))")
    older_majors = [v for v in released if v.major < version.major]
    if older_majors:
        previous = max(older_majors)
        changes = [c for c in compare_sets(load_schemas(released[previous]), current) if c.breaks]
        verdict.notes.append(
            f"major bump {previous} -> {version}: {len(changes)} breaking change(s) allowed; consumers of "
            f"{previous.major}.x refuse {version.major}.x messages until they upgrade")
    return verdict


def release(*, version: Version = CURRENT, root: Path = SCHEMAS_ROOT, force: bool = False) -> tuple[Path, list[str]]:
    """Freezes the current contracts as release ``version``; returns the folder and what was done.

    An existing release is rewritten only when the difference is documentation (descriptions,
    examples) - or with ``force``, for a version that has not been deployed anywhere yet.
    """
    from shared.contracts.generate import current_schemas, render

    current = current_schemas()
    target = release_dir(version, root)
    if target.is_dir() and not force:
        changes = compare_sets(load_schemas(target), current)
        if changes:
            return target, [f"release {version} is frozen and the contracts differ from it; not rewritten "
                            "(see `python -m shared.contracts.versioning check`)"]
    target.mkdir(parents=True, exist_ok=True)
    done = []
    for name, schema in current.items():
        path = target / name
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            done.append(f"wrote {path}")
    for path in sorted(target.glob("*.json")):
        if path.name not in current:
            path.unlink()
            done.append(f"removed {path}")
    return target, done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts.versioning", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check_cmd = commands.add_parser("check", help="fail on a breaking change without a major bump")
    check_cmd.add_argument("--mode", choices=sorted(MODES), default="full")
    check_cmd.add_argument("--root", type=Path, default=SCHEMAS_ROOT, help="folder of the released schema folders")
    release_cmd = commands.add_parser("release", help=f"freeze the contracts as release {CURRENT}")
    release_cmd.add_argument("--force", action="store_true", help="rewrite a release that has not been deployed yet")
    diff_cmd = commands.add_parser("diff", help="what changed for readers between two schema folders")
    diff_cmd.add_argument("old", type=Path)
    diff_cmd.add_argument("new", type=Path)
    args = parser.parse_args(argv)

    if args.command == "release":
        target, done = release(force=args.force)
        for line in done:
            print(line)
        print(f"release {CURRENT}: {target}")
        return 0
    if args.command == "diff":
        for change in compare_sets(load_schemas(args.old), load_schemas(args.new)):
            label = "additive" if change.additive else "breaks " + "+".join(sorted(change.breaks)).upper()
            print(f"{label}: {change.describe()}")
        return 0
    verdict = check(root=args.root, mode=args.mode)
    for note in verdict.notes:
        print(note)
    if not verdict.ok:
        print(f"contract versioning check failed (SCHEMA_VERSION {CURRENT}):", file=sys.stderr)
        for problem in verdict.problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"contracts {CURRENT}: compatible with every release of major {CURRENT.major} ({args.mode.upper()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
