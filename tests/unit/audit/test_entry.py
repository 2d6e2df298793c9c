import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.audit.domain.entry import (
    AuditEntry,
    PurgedEntry,
    canonical_bytes,
    content_sha256,
    entry_leaf_hash,
    leaf_data,
    purge,
)
from services.audit.domain.merkle import leaf_hash

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 29, 10, 15, 2, 123456, tzinfo=UTC)


def delivered(seq: int = 7, **changes) -> AuditEntry:
    fields = {
        "seq": seq,
        "message_id": "6d3c1f0e-0a9b-4c55-8b2e-7e1b2f3c4d5e",
        "correlation_id": None,
        "hop": "delivered",
        "platform": "ML",
        "service": "routing",
        "actor": "agent.traoré",
        "at": AT,
        "detail": {"recipients": ["ML", "MR"], "origin": "NE", "attempt": 2},
    }
    return AuditEntry(**(fields | changes))


def test_canonical_bytes_are_sorted_compact_utf8_json_without_seq():
    expected = (
        '{"actor":"agent.traoré","at":"2026-11-29T10:15:02.123456Z","correlation_id":null,'
        '"detail":{"attempt":2,"origin":"NE","recipients":["ML","MR"]},"hop":"delivered",'
        '"message_id":"6d3c1f0e-0a9b-4c55-8b2e-7e1b2f3c4d5e","platform":"ML","service":"routing"}'
    ).encode()
    assert canonical_bytes(delivered()) == expected


def test_leaf_commits_to_seq_and_content_digest():
    entry = delivered(seq=7)
    digest = hashlib.sha256(canonical_bytes(entry)).hexdigest()
    assert content_sha256(entry) == digest
    assert leaf_data(7, digest) == f'{{"content_sha256":"{digest}","seq":7}}'.encode()
    assert entry_leaf_hash(entry) == leaf_hash(leaf_data(7, digest))
    assert entry_leaf_hash(delivered(seq=8)) != entry_leaf_hash(entry)


def test_times_in_other_zones_hash_as_the_same_utc_instant():
    west_africa = timezone(timedelta(hours=1))
    assert canonical_bytes(delivered(at=AT.astimezone(west_africa))) == canonical_bytes(delivered())


def test_detail_key_order_does_not_change_the_hash():
    reordered = delivered(detail={"origin": "NE", "attempt": 2, "recipients": ["ML", "MR"]})
    assert entry_leaf_hash(reordered) == entry_leaf_hash(delivered())


def test_purged_entry_keeps_the_same_leaf_hash():
    entry = delivered()
    purged = purge(entry)
    assert purged == PurgedEntry(seq=7, content_sha256=content_sha256(entry))
    assert entry_leaf_hash(purged) == entry_leaf_hash(entry)


@pytest.mark.parametrize(
    "changes",
    [{"hop": "teleported"}, {"at": datetime(2026, 11, 29, 10, 15)}, {"seq": -1}, {"seq": True}],
)
def test_invalid_entries_are_refused(changes):
    with pytest.raises(ValueError):
        delivered(**changes)


def test_detail_values_that_are_not_json_cannot_be_hashed():
    with pytest.raises(ValueError):
        canonical_bytes(delivered(detail={"score": float("nan")}))
    with pytest.raises(TypeError):
        canonical_bytes(delivered(detail={"when": AT}))


def test_purged_entry_requires_a_lowercase_sha256_hex_digest():
    with pytest.raises(ValueError):
        PurgedEntry(seq=1, content_sha256="AB" * 32)
    with pytest.raises(ValueError):
        PurgedEntry(seq=1, content_sha256="ab")
