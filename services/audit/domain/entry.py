"""Audit entries and the bytes that go into the Merkle tree.

A leaf commits to a position and a content digest, not to the content itself:

    content_sha256 = hex SHA-256 of canonical_bytes(entry)   (every field but seq)
    leaf data      = {"content_sha256":"<hex>","seq":<seq>}  (canonical JSON)
    leaf hash      = SHA-256(0x00 || leaf data)

Retention can therefore purge an entry's content and keep only
(seq, content_sha256): the leaf, and every inclusion and consistency proof
through it, stays valid, while the digest still pins exactly what was there.
Keeping seq out of the digest makes the digest position-independent, which
lets the verifier recognise an entry that was moved rather than edited.

Canonical JSON: keys sorted, no whitespace, UTF-8 without escaping, no NaN or
Infinity; datetimes as ISO-8601 UTC with microseconds and a "Z" suffix.
Strings are hashed exactly as given (no Unicode normalisation).

Entries recorded by the audit service also carry the id of the HopRecorded
event and the kind of the message; when `event_id` is set, both "event_id"
and "kind" (possibly null) are part of the hashed content. Entries without
an event id hash exactly as before, so older digests stay valid.

`content_text` builds the same canonical text straight from stored column
values (the detail already as canonical JSON text), for verifying millions
of rows without building an AuditEntry per row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.audit.domain.merkle import leaf_hash

HOPS = frozenset(
    {"accepted", "published", "enriched", "routed", "delivered", "acknowledged", "quarantined", "read"}
)

_SHA256_HEX_LENGTH = 64
_HEX_DIGITS = frozenset("0123456789abcdef")

_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=True
)
_encode_string = json.encoder.py_encode_basestring if json.encoder.c_encode_basestring is None else json.encoder.c_encode_basestring


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    message_id: str
    correlation_id: str | None
    hop: str
    platform: str
    service: str
    actor: str | None
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict, hash=False)
    event_id: str | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        _check_seq(self.seq)
        if self.hop not in HOPS:
            raise ValueError(f"unknown hop {self.hop!r}")
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("audit entry time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class PurgedEntry:
    """What retention leaves of an entry: enough to rebuild its leaf."""

    seq: int
    content_sha256: str

    def __post_init__(self) -> None:
        _check_seq(self.seq)
        if len(self.content_sha256) != _SHA256_HEX_LENGTH or not _HEX_DIGITS.issuperset(self.content_sha256):
            raise ValueError("content_sha256 must be 64 lowercase hex digits")


def canonical_json(value: Any) -> bytes:
    return _encoder.encode(value).encode("utf-8")


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_bytes(entry: AuditEntry) -> bytes:
    """The entry's content (all fields except seq) as canonical JSON."""
    content = {
        "actor": entry.actor,
        "at": canonical_time(entry.at),
        "correlation_id": entry.correlation_id,
        "detail": entry.detail,
        "hop": entry.hop,
        "message_id": entry.message_id,
        "platform": entry.platform,
        "service": entry.service,
    }
    if entry.event_id is not None:
        content |= {"event_id": entry.event_id, "kind": entry.kind}
    return canonical_json(content)


def _json_string(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def content_text(
    *,
    event_id: str,
    kind: str | None,
    message_id: str,
    correlation_id: str | None,
    hop: str,
    platform: str,
    service: str,
    actor: str | None,
    at_text: str,
    detail_text: str,
) -> str:
    """canonical_bytes(entry).decode() for an entry with an event id, from stored values.

    `at_text` must be canonical_time(at) and `detail_text` canonical_json(detail); for such
    inputs the result is identical to canonical_bytes, which the integration tests check.
    """
    enc = _encode_string
    return "".join((
        '{"actor":', "null" if actor is None else enc(actor),
        ',"at":', enc(at_text),
        ',"correlation_id":', "null" if correlation_id is None else enc(correlation_id),
        ',"detail":', detail_text,
        ',"event_id":', enc(event_id),
        ',"hop":', enc(hop),
        ',"kind":', "null" if kind is None else enc(kind),
        ',"message_id":', enc(message_id),
        ',"platform":', enc(platform),
        ',"service":', enc(service),
        "}",
    ))


def content_sha256(entry: AuditEntry | PurgedEntry) -> str:
    if isinstance(entry, PurgedEntry):
        return entry.content_sha256
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def leaf_data(seq: int, content_digest: str) -> bytes:
    # Both values are JSON-safe as formatted, so this is canonical_json of the dict.
    return f'{{"content_sha256":"{content_digest}","seq":{seq}}}'.encode("ascii")


def leaf_hash_for(seq: int, content_digest: str) -> bytes:
    return leaf_hash(leaf_data(seq, content_digest))


def entry_leaf_hash(entry: AuditEntry | PurgedEntry) -> bytes:
    return leaf_hash_for(entry.seq, content_sha256(entry))


def purge(entry: AuditEntry) -> PurgedEntry:
    return PurgedEntry(seq=entry.seq, content_sha256=content_sha256(entry))


def _check_seq(seq: int) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"seq must be a non-negative integer, got {seq!r}")
