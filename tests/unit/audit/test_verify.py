from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.domain.checkpoint import Checkpoint, key_id, private_key_from_raw, sign_checkpoint
from services.audit.domain.entry import HOPS, AuditEntry, entry_leaf_hash, purge
from services.audit.domain.merkle import MerkleTree
from services.audit.domain.verify import FailureKind, verify_log

pytestmark = pytest.mark.unit

LOG = "pcms.g5sahel.example/audit/hub"
START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
SIGNER = private_key_from_raw(bytes(range(1, 33)))
KEY_ID = key_id(SIGNER.public_key())
KEYS = {KEY_ID: SIGNER.public_key()}
HOP_CYCLE = sorted(HOPS)


def audit_entry(seq: int, **changes) -> AuditEntry:
    entry = AuditEntry(
        seq=seq,
        message_id=f"message-{seq // 4}",
        correlation_id=f"case-{seq // 20}",
        hop=HOP_CYCLE[seq % len(HOP_CYCLE)],
        platform=("ML", "NE", "BF", "TD", "MR")[seq % 5],
        service="routing",
        actor=None,
        at=START + timedelta(seconds=seq),
        detail={"n": seq},
    )
    return replace(entry, **changes)


def renumbered(entries: list[AuditEntry]) -> list[AuditEntry]:
    return [replace(entry, seq=position) for position, entry in enumerate(entries)]


def build_log(size: int = 100, every: int = 10) -> tuple[list[AuditEntry], list[Checkpoint], list[bytes]]:
    entries = [audit_entry(seq) for seq in range(size)]
    leaves = [entry_leaf_hash(entry) for entry in entries]
    tree = MerkleTree(leaves)
    checkpoints = [
        sign_checkpoint(LOG, cut, tree.root_at(cut), START + timedelta(hours=cut), SIGNER, KEY_ID)
        for cut in range(every, size + 1, every)
    ]
    return entries, checkpoints, leaves


@pytest.fixture
def log():
    return build_log()


def test_verify_accepts_an_intact_log(log):
    entries, checkpoints, leaves = log
    report = verify_log(entries, checkpoints, KEYS)
    assert report.ok
    assert report.entries_checked == 100
    assert report.verified_size == 100
    assert report.notes == ()
    assert verify_log(entries, checkpoints, KEYS, reference_leaf_hashes=leaves).ok


def test_verify_reports_first_edited_entry(log):
    entries, checkpoints, leaves = log
    entries[37] = replace(entries[37], actor="someone.else")
    entries[58] = replace(entries[58], hop="read")
    report = verify_log(entries, checkpoints, KEYS, reference_leaf_hashes=leaves)
    assert report.failure.kind is FailureKind.ENTRY_EDITED
    assert report.first_bad_seq == 37
    assert report.reason == "entry 37 edited"
    assert report.verified_size == 30


def test_without_a_reference_an_edit_is_localised_to_its_checkpoint_window(log):
    entries, checkpoints, _ = log
    entries[37] = replace(entries[37], detail={"n": 37, "note": "added later"})
    report = verify_log(entries, checkpoints, KEYS)
    assert report.failure.kind is FailureKind.WINDOW_ALTERED
    assert report.failure.window == (30, 40)
    assert report.first_bad_seq is None
    assert report.reason == "entries in seq 30..39 altered: checkpoint 3 root mismatch"


def test_checkpoint_after_every_entry_pins_an_edit_without_a_reference():
    entries, checkpoints, _ = build_log(size=30, every=1)
    entries[17] = replace(entries[17], platform="TD")
    report = verify_log(entries, checkpoints, KEYS)
    assert report.failure.kind is FailureKind.ENTRY_EDITED
    assert report.first_bad_seq == 17


def test_verify_reports_missing_entry(log):
    entries, checkpoints, _ = log
    del entries[17]
    report = verify_log(entries, checkpoints, KEYS)
    assert report.failure.kind is FailureKind.ENTRY_MISSING
    assert report.reason == "entry missing at seq 17"
    assert report.first_bad_seq == 17
    assert report.verified_size == 10


def test_verify_reports_reordered_entries(log):
    entries, checkpoints, _ = log
    entries[40], entries[41] = entries[41], entries[40]
    report = verify_log(entries, checkpoints, KEYS)
    assert report.failure.kind is FailureKind.ENTRIES_REORDERED
    assert report.reason == "entries reordered at seq 40"


def test_verify_reports_duplicated_entry(log):
    entries, checkpoints, _ = log
    entries.insert(23, entries[22])
    report = verify_log(entries, checkpoints, KEYS)
    assert report.failure.kind is FailureKind.ENTRY_DUPLICATED
    assert report.first_bad_seq == 23


def test_verify_reports_deletion_hidden_by_renumbering(log):
    entries, checkpoints, leaves = log
    del entries[17]
    report = verify_log(renumbered(entries), checkpoints, KEYS, reference_leaf_hashes=leaves)
    assert report.failure.kind is FailureKind.ENTRY_MISSING
    assert report.reason == "entry missing at seq 17 (later entries renumbered)"


def test_verify_reports_swap_hidden_by_renumbering(log):
    entries, checkpoints, leaves = log
    entries[40], entries[41] = entries[41], entries[40]
    report = verify_log(renumbered(entries), checkpoints, KEYS, reference_leaf_hashes=leaves)
    assert report.failure.kind is FailureKind.ENTRIES_REORDERED
    assert report.first_bad_seq == 40


def test_verify_reports_insertion_hidden_by_renumbering(log):
    entries, checkpoints, leaves = log
    entries.insert(64, audit_entry(64, actor="intruder"))
    report = verify_log(renumbered(entries), checkpoints, KEYS, reference_leaf_hashes=leaves)
    assert report.failure.kind is FailureKind.ENTRY_INSERTED
    assert report.first_bad_seq == 64


def test_verify_reports_truncation_with_the_promised_size(log):
    entries, checkpoints, _ = log
    report = verify_log(entries[:90], checkpoints, KEYS)
    assert report.failure.kind is FailureKind.TRUNCATED
    assert report.reason == "log truncated: checkpoint size 100 > entries 90"
    assert report.first_bad_seq == 90
    assert report.verified_size == 90


def test_verify_reports_invalid_checkpoint_signature(log):
    entries, checkpoints, _ = log
    checkpoints[3] = replace(checkpoints[3], root=bytes(32))
    report = verify_log(entries, checkpoints, KEYS)
    assert report.failure.kind is FailureKind.CHECKPOINT_SIGNATURE
    assert report.reason == "checkpoint 3 signature invalid"
    assert report.failure.checkpoint_index == 3


def test_checkpoint_signed_by_an_unknown_key_is_invalid(log):
    entries, checkpoints, _ = log
    tree = MerkleTree(entry_leaf_hash(entry) for entry in entries)
    checkpoints.append(sign_checkpoint(LOG, 100, tree.root(), START, Ed25519PrivateKey.generate(), KEY_ID))
    assert verify_log(entries, checkpoints, KEYS).reason == "checkpoint 10 signature invalid"


def test_checkpoint_from_another_log_is_refused(log):
    entries, checkpoints, _ = log
    report = verify_log(entries, checkpoints, KEYS, log_id="pcms.g5sahel.example/audit/ML")
    assert report.failure.kind is FailureKind.CHECKPOINT_OTHER_LOG


def test_two_signed_roots_for_one_size_are_reported_as_a_fork(log):
    entries, checkpoints, _ = log
    fork = sign_checkpoint(LOG, 50, bytes(32), START, SIGNER, KEY_ID)
    report = verify_log(entries, [*checkpoints, fork], KEYS)
    assert report.failure.kind is FailureKind.CHECKPOINT_FORK


def test_checkpoints_may_be_given_in_any_order(log):
    entries, checkpoints, _ = log
    assert verify_log(entries, list(reversed(checkpoints)), KEYS).ok


def test_purged_entries_still_verify_and_edits_to_their_digest_do_not(log):
    entries, checkpoints, leaves = log
    retained = [purge(entry) if entry.seq < 50 else entry for entry in entries]
    assert verify_log(retained, checkpoints, KEYS).ok
    retained[12] = replace(retained[12], content_sha256="0" * 64)
    report = verify_log(retained, checkpoints, KEYS, reference_leaf_hashes=leaves)
    assert report.reason == "entry 12 edited"


def test_verify_accepts_seq_and_leaf_hash_pairs(log):
    entries, checkpoints, leaves = log
    pairs = list(enumerate(leaves))
    assert verify_log(pairs, checkpoints, KEYS).ok
    pairs[33] = (33, bytes(32))
    assert verify_log(pairs, checkpoints, KEYS, reference_leaf_hashes=leaves).first_bad_seq == 33


def test_forged_reference_never_blames_an_intact_entry(log):
    entries, checkpoints, leaves = log
    entries[35] = replace(entries[35], actor="someone.else")
    forged = list(leaves)
    forged[31] = bytes(32)
    forged[35] = entry_leaf_hash(entries[35])
    report = verify_log(entries, checkpoints, KEYS, reference_leaf_hashes=forged)
    assert report.failure.kind is FailureKind.WINDOW_ALTERED
    assert report.failure.window == (30, 40)
    assert report.notes == ("reference leaf hashes do not reproduce checkpoint 3; ignored from seq 31",)


def test_stale_reference_on_an_intact_log_is_only_noted(log):
    entries, checkpoints, leaves = log
    forged = list(leaves)
    forged[44] = bytes(32)
    report = verify_log(entries, checkpoints, KEYS, reference_leaf_hashes=forged)
    assert report.ok
    assert report.notes == ("reference leaf hashes do not reproduce checkpoint 4; ignored from seq 44",)


def test_entries_after_the_last_checkpoint_are_reported_as_unanchored(log):
    entries, checkpoints, _ = log
    report = verify_log(entries, checkpoints[:-2], KEYS)
    assert report.ok
    assert report.verified_size == 80
    assert report.notes == ("entries from seq 80 onward are not covered by any checkpoint yet",)


def test_edit_in_the_unanchored_tail_cannot_be_detected_and_says_so(log):
    entries, checkpoints, leaves = log
    entries[95] = replace(entries[95], actor="late.edit")
    report = verify_log(entries, checkpoints[:-1], KEYS, reference_leaf_hashes=leaves)
    assert report.ok
    assert "no checkpoint covers it" in report.notes[0]


def test_empty_log_with_no_checkpoints_verifies():
    report = verify_log([], [], KEYS)
    assert report.ok and report.entries_checked == 0


@settings(max_examples=40, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=120), every=st.integers(min_value=1, max_value=40))
def test_first_edit_is_always_named_exactly_when_a_reference_is_available(data, size, every):
    entries, checkpoints, leaves = build_log(size=size, every=every)
    anchored = checkpoints[-1].size if checkpoints else 0
    if anchored == 0:
        return
    first = data.draw(st.integers(min_value=0, max_value=anchored - 1))
    later = data.draw(st.integers(min_value=first, max_value=size - 1))
    for seq in {first, later}:
        entries[seq] = replace(entries[seq], actor=f"tamperer-{seq}")
    report = verify_log(entries, checkpoints, KEYS, reference_leaf_hashes=leaves)
    assert report.first_bad_seq == first
    assert report.reason == f"entry {first} edited"
