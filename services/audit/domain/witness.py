"""What a national platform checks before it accepts the hub's next checkpoint.

A witness remembers the last checkpoint it accepted and only moves forward
along an append-only history: a signed checkpoint that is smaller, forks at
the same size, or cannot be proven to extend the previous one is refused.
Once the witness holds checkpoint N, the hub can no longer rewrite or drop
any of the first N entries without the witness noticing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit.domain.checkpoint import Checkpoint, verify_checkpoint
from services.audit.domain.merkle import verify_consistency


class Rejection(StrEnum):
    BAD_SIGNATURE = "bad signature"
    DIFFERENT_LOG = "different log_id"
    SIZE_WENT_BACKWARDS = "size went backwards"
    SAME_SIZE_DIFFERENT_ROOT = "same size different root"
    INCONSISTENT_PROOF = "inconsistent proof"


@dataclass(frozen=True, slots=True)
class WitnessVerdict:
    accepted: bool
    rejection: Rejection | None = None
    detail: str = ""

    @property
    def reason(self) -> str:
        return self.rejection.value if self.rejection else "accepted"


@dataclass(frozen=True, slots=True)
class WitnessState:
    log_id: str
    latest: Checkpoint | None = None

    def observe(
        self,
        new: Checkpoint,
        consistency_proof: Sequence[bytes],
        public_keys: Mapping[str, Ed25519PublicKey],
    ) -> tuple[WitnessVerdict, WitnessState]:
        """Judge `new`; the returned state has moved on only if it was accepted."""
        if new.log_id != self.log_id:
            return _rejected(Rejection.DIFFERENT_LOG, f"witness follows {self.log_id!r}, got {new.log_id!r}"), self
        verdict = check_new_checkpoint(self.latest, new, consistency_proof, public_keys)
        if not verdict.accepted:
            return verdict, self
        newer = self.latest is None or new.size > self.latest.size
        return verdict, (WitnessState(self.log_id, new) if newer else self)


def check_new_checkpoint(
    last: Checkpoint | None,
    new: Checkpoint,
    consistency_proof: Sequence[bytes],
    public_keys: Mapping[str, Ed25519PublicKey],
) -> WitnessVerdict:
    if last is not None and new.log_id != last.log_id:
        return _rejected(Rejection.DIFFERENT_LOG, f"expected {last.log_id!r}, got {new.log_id!r}")
    if not verify_checkpoint(new, public_keys):
        return _rejected(Rejection.BAD_SIGNATURE, f"no valid signature by key {new.key_id}")
    if last is None:
        return WitnessVerdict(accepted=True, detail="first checkpoint seen (trust on first use)")
    if new.size < last.size:
        return _rejected(Rejection.SIZE_WENT_BACKWARDS, f"size {new.size} < previously seen {last.size}")
    if new.size == last.size:
        if new.root != last.root:
            return _rejected(Rejection.SAME_SIZE_DIFFERENT_ROOT, f"two different roots for size {new.size}")
        return WitnessVerdict(accepted=True, detail="same tree as before")
    if not verify_consistency(last.size, new.size, last.root, new.root, consistency_proof):
        return _rejected(
            Rejection.INCONSISTENT_PROOF, f"no proof that size {new.size} extends size {last.size}"
        )
    return WitnessVerdict(accepted=True, detail=f"extends size {last.size} to {new.size}")


def _rejected(rejection: Rejection, detail: str) -> WitnessVerdict:
    return WitnessVerdict(accepted=False, rejection=rejection, detail=detail)
