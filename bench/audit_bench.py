"""Audit log throughput: leaf hashing with incremental append, and full verification.

    python -m bench.audit_bench --entries 1000000

Builds N synthetic entries deterministically, then measures each phase with
wall-clock and process CPU time. Prints a table and writes bench/results/audit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.audit.domain.checkpoint import Checkpoint, key_id, private_key_from_raw, sign_checkpoint
from services.audit.domain.entry import AuditEntry, entry_leaf_hash
from services.audit.domain.merkle import MerkleTree, root_from_leaf_hashes, verify_consistency, verify_inclusion
from services.audit.domain.verify import verify_log

LOG_ID = "pcms.g5sahel.example/audit/bench"
START = datetime(2026, 11, 29, tzinfo=UTC)
PLATFORMS = ("BF", "ML", "MR", "NE", "TD")
HOP_ORDER = ("accepted", "published", "enriched", "routed", "delivered", "acknowledged")
PROOF_SAMPLES = 10_000


@dataclass(frozen=True)
class Measurement:
    phase: str
    operations: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.operations / self.wall_seconds if self.wall_seconds else float("inf")


def synthetic_entries(count: int) -> list[AuditEntry]:
    """Six hops per message, like traffic through the hub; fully deterministic."""
    return [
        AuditEntry(
            seq=seq,
            message_id=f"00000000-0000-4000-8000-{seq // 6:012d}",
            correlation_id=f"00000000-0000-4000-9000-{seq // 60:012d}",
            hop=HOP_ORDER[seq % len(HOP_ORDER)],
            platform=PLATFORMS[seq % 5],
            service="routing",
            actor=None if seq % 3 else f"officer.{seq % 997}",
            at=START + timedelta(milliseconds=seq * 37),
            detail={"origin": PLATFORMS[(seq + 1) % 5], "recipients": ["ML", "NE"], "attempt": 1 + seq % 3},
        )
        for seq in range(count)
    ]


def timed(phase: str, operations: int, action: Callable[[], Any]) -> tuple[Measurement, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return Measurement(phase, operations, time.perf_counter() - wall, time.process_time() - cpu), result


def hash_and_append(entries: list[AuditEntry]) -> MerkleTree:
    tree = MerkleTree()
    for entry in entries:
        tree.append(entry_leaf_hash(entry))
    return tree


def sign_every(tree: MerkleTree, every: int) -> list[Checkpoint]:
    signer = private_key_from_raw(bytes(range(32)))
    signer_id = key_id(signer.public_key())
    return [
        sign_checkpoint(LOG_ID, cut, tree.root_at(cut), START + timedelta(seconds=cut), signer, signer_id)
        for cut in range(every, len(tree) + 1, every)
    ]


def prove_and_check(tree: MerkleTree, samples: int) -> int:
    chooser = random.Random(6962)
    size, root = len(tree), tree.root()
    for _ in range(samples):
        index = chooser.randrange(size)
        old_size = chooser.randrange(1, size + 1)
        if not verify_inclusion(tree.leaf(index), index, size, tree.inclusion_proof(index), root):
            raise RuntimeError(f"inclusion proof for {index} failed")
        if not verify_consistency(old_size, size, tree.root_at(old_size), root, tree.consistency_proof(old_size)):
            raise RuntimeError(f"consistency proof from {old_size} failed")
    return samples


def run(count: int, every: int) -> list[Measurement]:
    build, entries = timed("build synthetic entries", count, lambda: synthetic_entries(count))
    append, tree = timed("leaf hash + incremental append", count, lambda: hash_and_append(entries))
    hashing, leaves = timed("leaf hash only", count, lambda: [entry_leaf_hash(entry) for entry in entries])
    appending, _ = timed("append only (precomputed leaves)", count, lambda: MerkleTree(leaves))
    batch, root = timed("root_from_leaf_hashes", count, lambda: root_from_leaf_hashes(leaves))
    if root != tree.root():
        raise RuntimeError("batch root differs from incremental root")
    signing, checkpoints = timed(f"sign checkpoints (every {every})", count // every, lambda: sign_every(tree, every))
    public = private_key_from_raw(bytes(range(32))).public_key()
    keys = {key_id(public): public}
    verify, report = timed("verify_log (entries + checkpoints)", count, lambda: verify_log(entries, checkpoints, keys))
    with_reference, referenced = timed(
        "verify_log with reference leaf hashes",
        count,
        lambda: verify_log(entries, checkpoints, keys, reference_leaf_hashes=leaves),
    )
    if not (report.ok and referenced.ok):
        raise RuntimeError(f"verification of an intact log failed: {report.reason or referenced.reason}")
    samples = min(PROOF_SAMPLES, count)
    proofs, _ = timed("inclusion + consistency proof, generate + verify", samples, lambda: prove_and_check(tree, samples))
    return [build, append, hashing, appending, batch, signing, verify, with_reference, proofs]


def print_table(count: int, measurements: list[Measurement]) -> None:
    print(f"audit log benchmark: {count:,} entries, Python {platform.python_version()}, {platform.machine()}")
    print(f"{'phase':<50} {'ops':>10} {'wall s':>9} {'cpu s':>9} {'ops/s':>12}")
    for m in measurements:
        print(f"{m.phase:<50} {m.operations:>10,} {m.wall_seconds:>9.3f} {m.cpu_seconds:>9.3f} {m.per_second:>12,.0f}")


def write_json(path: Path, count: int, every: int, measurements: list[Measurement]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "audit",
        "entries": count,
        "checkpoint_every": every,
        "command": " ".join([Path(sys.executable).name, "-m", "bench.audit_bench", *sys.argv[1:]]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": [asdict(m) | {"per_second": round(m.per_second, 1)} for m in measurements],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "audit.json")
    args = parser.parse_args(argv)
    measurements = run(args.entries, args.checkpoint_every)
    print_table(args.entries, measurements)
    write_json(args.output, args.entries, args.checkpoint_every, measurements)
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
