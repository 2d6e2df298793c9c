"""Verifies a platform's audit log from its database, with or without a witness's copy.

Everything is recomputed from the stored content: each entry's canonical content and digest, its
leaf, every signed checkpoint's root (domain/verify.py). The stored digest and leaf-hash columns
are not trusted; they only serve as a reference copy of the leaves, which verify_log believes only
where a signed root vouches for it. A witness's copy (its accepted checkpoints, the hub keys it
trusts and its mirror of the leaf hashes) comes from another platform's database, out of the
hub's reach: it catches a log whose own checkpoints were deleted or re-signed, and pins an edit to
its exact seq.

Beyond verify_log, three cheap consistency checks on what the writer stores with each entry:
the stored digest and leaf hash must match the recomputed ones, and the counter must equal the
number of entries. None of them can clear a log (an attacker controls those columns), but any
mismatch is proof of tampering, also past the last checkpoint where no signature reaches yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit import adapters
from services.audit.domain.checkpoint import Checkpoint, public_key_from_raw
from services.audit.domain.entry import PurgedEntry, content_text
from services.audit.domain.verify import Failure, FailureKind, VerifyReport, verify_log


@dataclass(frozen=True)
class WitnessCopy:
    platform: str
    checkpoints: list[Checkpoint]
    leaves: list[bytes]
    keys: dict[str, Ed25519PublicKey]


@dataclass
class DatabaseVerification:
    report: VerifyReport
    entries: int
    head: int
    checkpoints: int
    witness: str | None
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        if self.report.first_bad_seq is not None:
            return self.report.first_bad_seq
        return self._problem_seq

    _problem_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        failure = self.report.failure
        return {
            "ok": self.ok,
            "entries": self.entries,
            "verified_size": self.report.verified_size,
            "counter": self.head,
            "checkpoints": self.checkpoints,
            "witness": self.witness,
            "first_bad_seq": self.first_bad_seq,
            "failure": None if failure is None else {
                "kind": failure.kind.value, "message": failure.message, "seq": failure.seq,
                "window": list(failure.window) if failure.window else None,
            },
            "problems": self.problems,
            "notes": list(self.report.notes),
            "seconds": round(self.seconds, 3),
        }


async def load_witness_copy(connection: asyncpg.Connection | asyncpg.Pool, platform: str, log_id: str) -> WitnessCopy:
    keys = {kid: public_key_from_raw(raw) for kid, raw in (await adapters.witness_keys(connection, log_id)).items()}
    return WitnessCopy(
        platform=platform,
        checkpoints=await adapters.witness_checkpoints(connection, log_id),
        leaves=await adapters.mirror_leaves(connection, log_id),
        keys=keys,
    )


@dataclass
class StoredLog:
    """One snapshot of the log: seqs, recomputed digests and leaves, the stored leaf column, the counter."""

    seqs: list[int]
    digests: list[str]
    leaves: list[bytes]
    stored_leaves: list[bytes]
    head: int
    first_stored_mismatch: int | None  # first position whose stored digest or leaf differs from the recomputed one


async def read_log(connection: asyncpg.Connection) -> StoredLog:
    seqs: list[int] = []
    digests: list[str] = []
    leaves: list[bytes] = []
    stored_leaves: list[bytes] = []
    mismatch: int | None = None
    text_of, sha256 = content_text, hashlib.sha256
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        head = await adapters.next_seq(connection)
        async for rows in adapters.stream_rows(connection):
            for index, (seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at_text, detail_text,
                 stored_digest, stored_leaf, purged) in enumerate(rows):
                if not index % 2000:
                    await asyncio.sleep(0)  # lets the next chunk arrive while this one is hashed
                if purged:
                    digest = stored_digest
                else:
                    digest = sha256(text_of(
                        event_id=event_id, kind=kind, message_id=message_id, correlation_id=correlation_id, hop=hop,
                        platform=platform, service=service, actor=actor, at_text=at_text, detail_text=detail_text,
                    ).encode()).hexdigest()
                leaf = sha256(b'\x00{"content_sha256":"%s","seq":%d}' % (digest.encode(), seq)).digest()
                if mismatch is None and (digest != stored_digest or leaf != stored_leaf):
                    mismatch = len(seqs)
                seqs.append(seq)
                digests.append(digest)
                leaves.append(leaf)
                stored_leaves.append(stored_leaf)
    return StoredLog(seqs, digests, leaves, stored_leaves, head, mismatch)


async def verify_database(
    connection: asyncpg.Connection,
    *,
    log_id: str,
    public_keys: Mapping[str, Ed25519PublicKey],
    witness: WitnessCopy | None = None,
) -> DatabaseVerification:
    started = time.perf_counter()
    stored = await read_log(connection)
    seqs, digests, leaves, head = stored.seqs, stored.digests, stored.leaves, stored.head
    own = await adapters.checkpoints(connection, log_id)
    keys = dict(public_keys)
    anchors: dict[tuple[int, bytes], Checkpoint] = {(c.size, c.root): c for c in own}
    reference: Sequence[bytes] = stored.stored_leaves
    if witness is not None:
        keys |= witness.keys
        for checkpoint in witness.checkpoints:
            anchors.setdefault((checkpoint.size, checkpoint.root), checkpoint)
        if witness.leaves:
            reference = witness.leaves
    ordered = sorted(anchors.values(), key=lambda c: (c.size, c.at))
    report = verify_log(zip(seqs, leaves), ordered, keys, reference_leaf_hashes=reference, log_id=log_id)
    if not report.ok and report.failure and report.failure.kind not in _CHECKPOINT_FAILURES:
        # Same leaves, with digests: lets verify_log tell an edit from a deletion or a swap.
        items = [PurgedEntry(seq=seq, content_sha256=digest) for seq, digest in zip(seqs, digests)]
        report = verify_log(items, ordered, keys, reference_leaf_hashes=reference, log_id=log_id)
    result = DatabaseVerification(report=report, entries=len(seqs), head=head, checkpoints=len(ordered),
                                  witness=witness.platform if witness else None,
                                  seconds=time.perf_counter() - started)
    _stored_checks(result, stored)
    if not keys:
        result.problems.append("no public key to check the checkpoints with")
    elif not ordered and seqs:
        result.problems.append("no checkpoint covers any entry: nothing is signed yet")
    return result


_CHECKPOINT_FAILURES = {FailureKind.CHECKPOINT_SIGNATURE, FailureKind.CHECKPOINT_OTHER_LOG, FailureKind.CHECKPOINT_FORK}


def _stored_checks(result: DatabaseVerification, stored: StoredLog) -> None:
    position = stored.first_stored_mismatch
    if position is not None and stored.seqs[:position + 1] == list(range(position + 1)):
        seq = stored.seqs[position]
        result.problems.append(f"entry {seq}: content does not match its stored digest (edited after it was written)")
        result._problem_seq = seq
    if stored.head != len(stored.seqs):
        result.problems.append(f"the counter says {stored.head} entries were appended, {len(stored.seqs)} are stored")
        if result._problem_seq is None:
            result._problem_seq = min(stored.head, len(stored.seqs))


def failure_line(failure: Failure | None) -> str:
    return "ok" if failure is None else f"{failure.kind.value}: {failure.message}"
