"""A national platform as witness of the hub's audit log.

Each CheckpointPublished arriving on checkpoints.<P> is judged against the last checkpoint this
platform accepted (domain/witness.py: signature, same log, never smaller, no fork at the same
size, consistency proof from the previous size) and recorded with its verdict in
audit_witness_checkpoints; a rejection is logged as an error. The hub therefore cannot rewrite or
drop an entry it has checkpointed without every state noticing at its next checkpoint.

The witness also keeps a mirror of the leaf hashes (audit_witness_leaves, contiguous from seq 0)
when the messages carry them and they rebuild the signed root: `pcms audit verify --witness P`
uses that mirror as the reference copy that pins a tampered entry to its exact seq.

A checkpoint whose proof starts beyond what the witness holds (an earlier one is still on its
way: redelivery can reorder) is kept as `pending` and judged again once the witness catches up.

Keys: the public keys in the trusted-keys directory, plus, with trust on first use on (the
development default), the key carried by the first checkpoint this witness ever sees for the log.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.contracts.events import CheckpointPublished
from services.audit import adapters
from services.audit.domain.checkpoint import Checkpoint, key_id, public_key_from_raw, public_key_to_raw
from services.audit.domain.merkle import RECENT_LEAVES, MerkleTree, PrunedHashes
from services.audit.domain.witness import Rejection, WitnessState, WitnessVerdict, check_new_checkpoint

log = structlog.get_logger("audit.witness")


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted | rejected | pending | duplicate
    reason: str
    detail: str = ""


class CheckpointWitness:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        log_id: str,
        trusted_keys: dict[str, Ed25519PublicKey],
        trust_on_first_use: bool,
        keep_recent_leaves: int = RECENT_LEAVES,
    ) -> None:
        """The mirror keeps its lowest levels for its last `keep_recent_leaves` leaves only; a checkpoint that
        reaches further back is judged again on the whole mirror, read from storage."""
        self._pool = pool
        self._log_id = log_id
        self._trusted = dict(trusted_keys)
        self._tofu = trust_on_first_use
        self._keep_recent = keep_recent_leaves
        self._lock = asyncio.Lock()
        self._learned: dict[str, Ed25519PublicKey] = {}
        self._state = WitnessState(log_id)
        self._accepted: set[tuple[int, bytes]] = set()
        self._mirror = MerkleTree()
        self._staged: tuple[int, list[bytes]] | None = None

    @property
    def log_id(self) -> str:
        return self._log_id

    @property
    def latest(self) -> Checkpoint | None:
        return self._state.latest

    @property
    def mirror_size(self) -> int:
        return self._mirror.size

    async def start(self) -> None:
        async with self._pool.acquire() as connection:
            self._learned = {kid: public_key_from_raw(raw)
                             for kid, raw in (await adapters.witness_keys(connection, self._log_id)).items()}
            accepted = await adapters.witness_checkpoints(connection, self._log_id)
            self._mirror = MerkleTree(await adapters.mirror_leaves(connection, self._log_id))
        self._mirror.keep_recent_only(self._keep_recent)
        self._accepted = {(c.size, c.root) for c in accepted}
        self._state = WitnessState(self._log_id, max(accepted, key=lambda c: c.size) if accepted else None)

    def keys(self) -> dict[str, Ed25519PublicKey]:
        return self._trusted | self._learned

    async def observe(self, message: CheckpointPublished) -> Outcome:
        async with self._lock:
            try:
                outcome = await self._observe_on_whole_mirror_if_needed(message)
                if outcome.status == "accepted":
                    await self._retry_pending()
                return outcome
            finally:
                self._mirror.keep_recent_only(self._keep_recent)

    async def _observe_on_whole_mirror_if_needed(self, message: CheckpointPublished, *, retried: bool = False) -> Outcome:
        try:
            return await self._observe(message, retried=retried)
        except PrunedHashes:  # it reaches back beyond the mirror's recent leaves: judge it again on all of them
            log.warning("audit_checkpoint_judged_on_whole_mirror", size=message.size,
                        previous_size=message.previous_size, held_from=self._mirror.first_held)
            self._staged = None
            await self._reload_mirror()
            return await self._observe(message, retried=retried)

    async def _retry_pending(self) -> None:
        progressed = True
        while progressed:
            progressed = False
            async with self._pool.acquire() as connection:
                pending = await adapters.unresolved_pending(connection, self._log_id)
            for data in pending:
                message = CheckpointPublished.model_validate(data)
                latest_size = self._state.latest.size if self._state.latest else 0
                if message.previous_size > latest_size and message.size > latest_size:
                    continue
                outcome = await self._observe_on_whole_mirror_if_needed(message, retried=True)
                progressed = progressed or outcome.status == "accepted"

    async def _observe(self, message: CheckpointPublished, *, retried: bool = False) -> Outcome:
        try:
            checkpoint = Checkpoint(
                log_id=message.log_id, size=message.size, root=bytes.fromhex(message.root), at=message.at,
                key_id=message.key_id, signature=base64.b64decode(message.signature),
            )
        except ValueError as error:
            log.error("audit_checkpoint_malformed", error=str(error))
            return Outcome("rejected", "malformed", str(error))
        if (checkpoint.size, checkpoint.root) in self._accepted:
            if retried:  # a pending copy of something accepted since: close it
                await self._record(checkpoint, message, Outcome("accepted", "accepted", "seen before"))
            return Outcome("duplicate", "accepted", "seen before")
        if checkpoint.log_id != self._log_id:
            return await self._finish(checkpoint, message, _rejected(
                Rejection.DIFFERENT_LOG, f"witness follows {self._log_id!r}, got {checkpoint.log_id!r}"))
        await self._maybe_learn_key(checkpoint, message)
        latest = self._state.latest
        proof = [bytes.fromhex(node) for node in message.consistency_proof]
        keys = self.keys()
        if latest is not None and message.previous_size > latest.size and checkpoint.size > latest.size:
            if not retried:
                detail = f"proof starts at size {message.previous_size}; witness holds {latest.size}"
                await self._record(checkpoint, message, Outcome("pending", "waiting for an earlier checkpoint", detail))
                log.warning("audit_checkpoint_pending", size=checkpoint.size, detail=detail)
            return Outcome("pending", "waiting for an earlier checkpoint")
        if latest is not None and checkpoint.size < latest.size and self._mirror.size >= checkpoint.size:
            verdict = check_new_checkpoint(None, checkpoint, [], keys)
            if verdict.accepted:
                if self._mirror.root_at(checkpoint.size) == checkpoint.root:
                    return await self._finish(checkpoint, message, WitnessVerdict(
                        True, detail=f"older checkpoint, matches the mirrored leaves up to {checkpoint.size}"))
                verdict = _rejected(Rejection.SIZE_WENT_BACKWARDS,
                                    f"size {checkpoint.size} < witnessed {latest.size}, and its root contradicts "
                                    "the leaves already witnessed")
            return await self._finish(checkpoint, message, verdict)
        if latest is not None and message.previous_size != latest.size and checkpoint.size > latest.size:
            verdict = self._judge_by_mirror(latest, checkpoint, message, keys)
        else:
            verdict, _ = self._state.observe(checkpoint, proof, keys)
        if verdict.accepted and checkpoint.size > (latest.size if latest else 0):
            mirror_problem = self._mirror_check(checkpoint, message)
            if mirror_problem:
                verdict = _rejected(Rejection.INCONSISTENT_PROOF, mirror_problem)
        return await self._finish(checkpoint, message, verdict)

    def _judge_by_mirror(
        self, latest: Checkpoint, checkpoint: Checkpoint, message: CheckpointPublished, keys: dict[str, Ed25519PublicKey]
    ) -> WitnessVerdict:
        """The proof is from another size than the witness holds: judge by the mirrored leaves, if they reach."""
        signature = check_new_checkpoint(None, checkpoint, [], keys)
        if not signature.accepted:
            return signature
        start = message.previous_size
        if not message.leaf_hashes or start > self._mirror.size or self._mirror.size < latest.size:
            return _rejected(Rejection.INCONSISTENT_PROOF,
                             f"proof from size {start} cannot show that size {checkpoint.size} extends {latest.size}")
        return WitnessVerdict(True, detail=f"extends size {latest.size} to {checkpoint.size} (checked on leaves)")

    def _mirror_check(self, checkpoint: Checkpoint, message: CheckpointPublished) -> str | None:
        """Extends the mirror with the message's leaves; a problem only if they contradict a signed root.

        The leaves are staged into the in-memory mirror; _finish persists them, or reloads the mirror
        from the database when the checkpoint is not accepted after all.
        """
        start = message.previous_size
        leaves = [bytes.fromhex(leaf) for leaf in message.leaf_hashes]
        if not leaves or start + len(leaves) != checkpoint.size or start > self._mirror.size:
            return None  # nothing to mirror, or a gap: the consistency proof alone decided
        if start == self._mirror.size:
            trial = self._mirror
        else:  # rare: leaves overlapping what is mirrored already
            trial = MerkleTree(self._mirror.leaf(i) for i in range(start))
        old_size = self._mirror.size
        trial.extend(leaves)
        self._staged = (old_size, [trial.leaf(i) for i in range(old_size, trial.size)])
        self._mirror = trial
        latest = self._state.latest
        if trial.root() != checkpoint.root:
            return f"the leaf hashes sent with size {checkpoint.size} do not rebuild its signed root"
        if latest is not None and latest.size <= trial.size and trial.root_at(latest.size) != latest.root:
            return f"the leaf hashes sent with size {checkpoint.size} contradict the witnessed size {latest.size}"
        return None

    async def _maybe_learn_key(self, checkpoint: Checkpoint, message: CheckpointPublished) -> None:
        if checkpoint.key_id in self.keys() or not self._tofu or message.public_key is None:
            return
        if self._state.latest is not None or self._learned:
            return  # trust on *first* use only: a new key later is refused, not learned
        raw = base64.b64decode(message.public_key)
        public = public_key_from_raw(raw)
        if key_id(public) != checkpoint.key_id:
            return
        async with self._pool.acquire() as connection, connection.transaction():
            await adapters.learn_witness_key(connection, checkpoint.key_id, self._log_id, public_key_to_raw(public),
                                             "trust on first use")
        self._learned[checkpoint.key_id] = public
        log.warning("audit_witness_key_learned_on_first_use", key_id=checkpoint.key_id, log_id=self._log_id,
                    hint="development only: put the hub's public key in PCMS_AUDIT_TRUSTED_KEYS_DIR")

    async def _finish(self, checkpoint: Checkpoint, message: CheckpointPublished, verdict: WitnessVerdict) -> Outcome:
        staged, self._staged = self._staged, None
        outcome = Outcome("accepted" if verdict.accepted else "rejected", verdict.reason, verdict.detail)
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await adapters.record_witness(connection, _record(checkpoint, message, outcome))
                if verdict.accepted and staged and staged[1]:
                    await adapters.add_mirror_leaves(connection, self._log_id, staged[0], staged[1])
        except Exception:
            if staged:
                await self._reload_mirror()
            raise
        if verdict.accepted:
            self._accepted.add((checkpoint.size, checkpoint.root))
            if self._state.latest is None or checkpoint.size > self._state.latest.size:
                self._state = WitnessState(self._log_id, checkpoint)
            log.info("audit_checkpoint_witnessed", size=checkpoint.size, detail=verdict.detail)
        else:
            if staged:
                await self._reload_mirror()
            log.error("audit_checkpoint_rejected", size=checkpoint.size, reason=verdict.reason, detail=verdict.detail,
                      log_id=checkpoint.log_id)
        return outcome

    async def _reload_mirror(self) -> None:
        async with self._pool.acquire() as connection:
            self._mirror = MerkleTree(await adapters.mirror_leaves(connection, self._log_id))

    async def _record(self, checkpoint: Checkpoint, message: CheckpointPublished, outcome: Outcome) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await adapters.record_witness(connection, _record(checkpoint, message, outcome))

    async def view(self) -> dict[str, Any]:
        latest = self._state.latest
        async with self._pool.acquire() as connection:
            summary = await adapters.witness_summary(connection, self._log_id)
        return {
            "role": "witness",
            "log_id": self._log_id,
            "latest": None if latest is None else {
                "size": latest.size, "root": latest.root.hex(), "at": latest.at, "key_id": latest.key_id},
            "mirrored_leaves": self._mirror.size,
            "trusted_keys": sorted(self._trusted),
            "learned_keys": sorted(self._learned),
            "trust_on_first_use": self._tofu,
            **summary,
        }


def _rejected(rejection: Rejection, detail: str) -> WitnessVerdict:
    return WitnessVerdict(accepted=False, rejection=rejection, detail=detail)


def _record(checkpoint: Checkpoint, message: CheckpointPublished, outcome: Outcome) -> adapters.WitnessRecord:
    return adapters.WitnessRecord(checkpoint=checkpoint, previous_size=message.previous_size, status=outcome.status,
                                  reason=outcome.reason, detail=outcome.detail,
                                  message=message.model_dump(mode="json"))
