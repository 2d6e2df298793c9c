"""Full verification of a stored audit log against its signed checkpoints.

Trust model: the database holding the entries is untrusted; anyone able to
edit a row can also rewrite every hash, chain value or proof stored beside
it. What cannot be forged without the log key is a signed checkpoint, whose
root commits to every leaf before its size.

How far a failure can be localised follows from that:

* Order. Every leaf binds its seq, so entries are replayed in the order
  given and must carry seq 0, 1, 2, ... A jump names the first missing seq
  (or a reordering, if that seq turns up later); a step back names the
  duplicate. Renumbering rows to hide this changes their leaves, which the
  next two checks catch.
* Checkpoints. Roots are recomputed at every checkpoint size. The first
  mismatching checkpoint proves that an entry between the previous verified
  checkpoint and this one was altered, and nothing more: a root is 32 bytes
  of commitment to the whole window, so with only signed roots, and a
  database whose every byte the attacker controls, no finer answer is
  sound. A hash chain stored per entry would not help (the attacker rewrites
  the chain too, and can even make an innocent entry look guilty); a chain
  head in the checkpoint would be as coarse as the root.
* Exact entry. Precision below the window needs per-entry hashes from
  outside the attacker's reach. `reference_leaf_hashes` accepts any copy of
  the leaf hashes: a witness's mirror, a backup or export, or the store's own
  leaf-hash column. It is never trusted as given: on the first leaf that
  differs from it, the reference is authenticated by rebuilding the root of
  the covering checkpoint from it. If it reproduces the signed root it holds
  the original leaves (collision resistance), so the first differing seq is
  the first bad entry, and comparing digests at neighbouring positions tells
  an edit from a deletion, insertion or swap hidden by renumbering. If it
  does not, it is set aside with a note and verification falls back to the
  checkpoint window: a forged reference can cost precision but can never
  blame an intact entry. (Neighbours with identical content can blur the
  kind of change reported, never its seq.)
* Truncation. A checkpoint larger than the entries replayed names the first
  absent seq and the size that was promised.

Entries past the last checkpoint cannot be verified yet; the report says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit.domain.checkpoint import Checkpoint, verify_checkpoint
from services.audit.domain.entry import AuditEntry, PurgedEntry, content_sha256, entry_leaf_hash, leaf_hash_for
from services.audit.domain.merkle import HASH_SIZE, MerkleTree, root_from_leaf_hashes

LogItem = AuditEntry | PurgedEntry | tuple[int, bytes]
_STORED_ENTRY = (AuditEntry, PurgedEntry)


class FailureKind(StrEnum):
    CHECKPOINT_SIGNATURE = "checkpoint signature invalid"
    CHECKPOINT_OTHER_LOG = "checkpoint from another log"
    CHECKPOINT_FORK = "checkpoints disagree"
    ENTRY_EDITED = "entry edited"
    ENTRY_MISSING = "entry missing"
    ENTRY_INSERTED = "entry inserted"
    ENTRY_DUPLICATED = "entry duplicated"
    ENTRIES_REORDERED = "entries reordered"
    WINDOW_ALTERED = "entries altered within checkpoint window"
    TRUNCATED = "log truncated"


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    message: str
    seq: int | None = None
    checkpoint_index: int | None = None
    window: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries_checked: int
    verified_size: int
    failure: Failure | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def first_bad_seq(self) -> int | None:
        return self.failure.seq if self.failure else None

    @property
    def reason(self) -> str | None:
        return self.failure.message if self.failure else None


@dataclass(frozen=True, slots=True)
class _Anchor:
    index: int
    checkpoint: Checkpoint

    @property
    def size(self) -> int:
        return self.checkpoint.size


def verify_log(
    entries: Iterable[LogItem],
    checkpoints: Sequence[Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    reference_leaf_hashes: Sequence[bytes] | None = None,
    log_id: str | None = None,
) -> VerifyReport:
    anchors, failure = _verified_anchors(checkpoints, public_keys, log_id)
    if failure:
        return VerifyReport(entries_checked=0, verified_size=0, failure=failure)
    return _Replay(anchors, reference_leaf_hashes).run(iter(entries))


def _verified_anchors(
    checkpoints: Sequence[Checkpoint], public_keys: Mapping[str, Ed25519PublicKey], log_id: str | None
) -> tuple[list[_Anchor], Failure | None]:
    expected_log = log_id if log_id is not None else (checkpoints[0].log_id if checkpoints else None)
    by_size: dict[int, _Anchor] = {}
    for index, checkpoint in enumerate(checkpoints):
        if checkpoint.log_id != expected_log:
            message = f"checkpoint {index} is for log {checkpoint.log_id!r}, not {expected_log!r}"
            return [], Failure(FailureKind.CHECKPOINT_OTHER_LOG, message, checkpoint_index=index)
        if not verify_checkpoint(checkpoint, public_keys):
            message = f"checkpoint {index} signature invalid"
            return [], Failure(FailureKind.CHECKPOINT_SIGNATURE, message, checkpoint_index=index)
        earlier = by_size.setdefault(checkpoint.size, _Anchor(index, checkpoint))
        if earlier.checkpoint.root != checkpoint.root:
            message = f"checkpoints {earlier.index} and {index} sign different roots for size {checkpoint.size}"
            return [], Failure(FailureKind.CHECKPOINT_FORK, message, checkpoint_index=index)
    return sorted(by_size.values(), key=lambda anchor: anchor.size), None


class _Reference:
    """Leaf hashes from elsewhere, believed only once a signed root vouches for them."""

    def __init__(self, leaf_hashes: Sequence[bytes], anchors: Sequence[_Anchor], notes: list[str]) -> None:
        self._leaves = leaf_hashes
        self._anchors = anchors
        self._notes = notes
        self._trusted_size = 0
        self._set_aside = False

    def differs(self, position: int, leaf: bytes) -> bool:
        return not self._set_aside and position < len(self._leaves) and self._leaves[position] != leaf

    def vouches_for(self, position: int) -> bool:
        """Whether a signed checkpoint confirms the reference at `position`; notes why not."""
        if self._authenticate(position):
            return True
        if not self._set_aside:
            self._set_aside = True
            self._notes.append(f"reference leaf hash at seq {position} differs but no checkpoint covers it")
        return False

    def matches(self, position: int, digest: str | None) -> bool:
        return (
            digest is not None
            and self._authenticate(position)
            and leaf_hash_for(position, digest) == self._leaves[position]
        )

    def _authenticate(self, position: int) -> bool:
        if position < self._trusted_size:
            return True
        if self._set_aside:
            return False
        anchor = next((anchor for anchor in self._anchors if anchor.size > position), None)
        if anchor is None or anchor.size > len(self._leaves):
            return False
        if root_from_leaf_hashes(self._leaves[: anchor.size]) != anchor.checkpoint.root:
            self._set_aside = True
            self._notes.append(
                f"reference leaf hashes do not reproduce checkpoint {anchor.index}; ignored from seq {position}"
            )
            return False
        self._trusted_size = anchor.size
        return True


class _Replay:
    def __init__(self, anchors: list[_Anchor], reference_leaf_hashes: Sequence[bytes] | None) -> None:
        self._pending = deque(anchors)
        self._last_anchor = anchors[-1] if anchors else None
        self._notes: list[str] = []
        self._reference = _Reference(reference_leaf_hashes, anchors, self._notes) if reference_leaf_hashes else None
        self._tree = MerkleTree()
        self._verified_size = 0

    def run(self, items: Iterator[LogItem]) -> VerifyReport:
        tree = self._tree
        reference = self._reference
        for item in items:
            position = tree.size
            if self._pending and self._pending[0].size == position and (failure := self._check_anchors()):
                return self._report(failure)
            seq, leaf = _seq_and_leaf(item)
            if seq != position:
                return self._report(_order_failure(position, seq, items))
            if reference and reference.differs(position, leaf) and reference.vouches_for(position):
                return self._report(_classify(position, item, next(items, None), reference))
            tree.append(leaf)
        if failure := self._check_anchors():
            return self._report(failure)
        if self._pending:
            promised = self._pending[-1].size
            message = f"log truncated: checkpoint size {promised} > entries {tree.size}"
            return self._report(
                Failure(FailureKind.TRUNCATED, message, seq=tree.size, checkpoint_index=self._pending[-1].index)
            )
        return self._report(None)

    def _check_anchors(self) -> Failure | None:
        size = self._tree.size
        while self._pending and self._pending[0].size == size:
            anchor = self._pending.popleft()
            if self._tree.root() != anchor.checkpoint.root:
                return _window_failure(self._verified_size, anchor)
            self._verified_size = size
        return None

    def _report(self, failure: Failure | None) -> VerifyReport:
        notes = list(self._notes)
        anchored = self._last_anchor.size if self._last_anchor else 0
        if failure is None and self._tree.size > anchored:
            notes.append(f"entries from seq {anchored} onward are not covered by any checkpoint yet")
        return VerifyReport(
            entries_checked=self._tree.size, verified_size=self._verified_size, failure=failure, notes=tuple(notes)
        )


def _seq_and_leaf(item: LogItem) -> tuple[int, bytes]:
    if isinstance(item, _STORED_ENTRY):
        return item.seq, entry_leaf_hash(item)
    seq, leaf = item
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"leaf hash for seq {seq} must be {HASH_SIZE} bytes")
    return seq, leaf


def _seq_of(item: LogItem) -> int:
    return item.seq if isinstance(item, _STORED_ENTRY) else item[0]


def _digest(item: LogItem | None) -> str | None:
    return content_sha256(item) if isinstance(item, _STORED_ENTRY) else None


def _order_failure(position: int, seq: int, rest: Iterator[LogItem]) -> Failure:
    if seq < position:
        message = f"duplicate of entry {seq} at seq {position}"
        return Failure(FailureKind.ENTRY_DUPLICATED, message, seq=position)
    if any(_seq_of(item) == position for item in rest):
        return Failure(FailureKind.ENTRIES_REORDERED, f"entries reordered at seq {position}", seq=position)
    return Failure(FailureKind.ENTRY_MISSING, f"entry missing at seq {position}", seq=position)


def _classify(position: int, item: LogItem, following: LogItem | None, reference: _Reference) -> Failure:
    belongs_one_later = reference.matches(position + 1, _digest(item))
    next_belongs_here = reference.matches(position, _digest(following))
    if belongs_one_later and next_belongs_here:
        return Failure(FailureKind.ENTRIES_REORDERED, f"entries reordered at seq {position}", seq=position)
    if belongs_one_later:
        message = f"entry missing at seq {position} (later entries renumbered)"
        return Failure(FailureKind.ENTRY_MISSING, message, seq=position)
    if next_belongs_here:
        message = f"entry inserted at seq {position} (later entries renumbered)"
        return Failure(FailureKind.ENTRY_INSERTED, message, seq=position)
    return Failure(FailureKind.ENTRY_EDITED, f"entry {position} edited", seq=position)


def _window_failure(start: int, anchor: _Anchor) -> Failure:
    end = anchor.size
    if end - start == 1:
        message = f"entry {start} edited (checkpoint {anchor.index} root mismatch)"
        return Failure(FailureKind.ENTRY_EDITED, message, seq=start, checkpoint_index=anchor.index)
    message = f"entries in seq {start}..{end - 1} altered: checkpoint {anchor.index} root mismatch"
    return Failure(FailureKind.WINDOW_ALTERED, message, checkpoint_index=anchor.index, window=(start, end))
