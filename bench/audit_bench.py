"""Audit log throughput: leaf hashing with incremental append, and full verification.

    python -m bench.audit_bench --entries 1000000
    python -m bench.audit_bench --database --entries 50000 --verify-entries 1000000

Builds N synthetic entries deterministically, then measures each phase with
wall-clock and process CPU time. Prints a table and writes bench/results/audit.json.

--database measures against PostgreSQL (DATABASE_URL, default the local server) in a scratch
database it creates and drops: append throughput of --entries HopRecorded events through the
audit service's real single-writer appender (batched, concurrent callers as the consumer runtime
makes them), then `pcms audit verify`'s verification (read every row, recompute every digest,
leaf and checkpoint root) of a log of --verify-entries entries, topped up with bulk COPY of rows
built by the same code. Targets: >= 5,000 appends/s, <= 10 s to verify 1M entries. It prints the
figures; it asserts nothing. Writes bench/results/audit_database.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.audit.domain.checkpoint import Checkpoint, key_id, private_key_from_raw, sign_checkpoint
from services.audit.domain.entry import AuditEntry, entry_leaf_hash
from services.audit.domain.merkle import MerkleTree, root_from_leaf_hashes, verify_consistency, verify_inclusion
from services.audit.domain.verify import verify_log
from shared.contracts.events import HopRecorded

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


def run_database(append_count: int, verify_count: int, every: int, in_flight: int, batch_max: int) -> list[Measurement]:
    return asyncio.run(_run_database(append_count, verify_count, every, in_flight, batch_max))


def _database_url() -> str:
    return os.environ.get("PCMS_DATABASE_URL") or os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


async def _timed_async(phase: str, operations: int, action: Callable[[], Awaitable[Any]]) -> tuple[Measurement, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await action()
    return Measurement(phase, operations, time.perf_counter() - wall, time.process_time() - cpu), result


def _hop(seq: int) -> HopRecorded:
    return HopRecorded(
        event_id=uuid.UUID(int=(1 << 120) + seq), message_id=uuid.UUID(int=seq // 6 + 1),
        correlation_id=uuid.UUID(int=seq // 60 + 1), kind="alert", hop=HOP_ORDER[seq % len(HOP_ORDER)],
        platform=PLATFORMS[seq % 5], service="routing", actor=None if seq % 3 else f"officer.{seq % 997}",
        at=START + timedelta(milliseconds=seq * 37),
        detail={"origin": PLATFORMS[(seq + 1) % 5], "recipients": ["ML", "NE"], "attempt": 1 + seq % 3},
    )


async def _run_database(append_count: int, verify_count: int, every: int, in_flight: int, batch_max: int) -> list[Measurement]:
    import asyncpg

    from services.audit import adapters
    from services.audit.appender import AuditAppender
    from services.audit.keys import log_id_for, signer_from_key
    from services.audit.verification import verify_database
    from shared.db.connect import create_pool, ensure_database
    from shared.db.migrate import migrate

    server = _database_url()
    name = f"pcms_bench_audit_{os.getpid()}"
    await ensure_database(server, name)
    pool = await create_pool(server, name, min_size=2, max_size=4)
    signer = signer_from_key(log_id_for("HUB"), private_key_from_raw(bytes(range(32))))
    measurements: list[Measurement] = []
    try:
        async with pool.acquire() as connection:
            await migrate(connection)
        events = [_hop(seq) for seq in range(append_count)]
        appender = AuditAppender(pool, signer, batch_max=batch_max, checkpoint_every=every, checkpoint_seconds=3600)
        await appender.start()
        window = asyncio.Semaphore(in_flight)

        async def one(event: HopRecorded) -> bool:
            async with window:
                return await appender.append(event)

        async def append_all() -> int:
            return sum(await asyncio.gather(*(one(event) for event in events)))

        appended, count = await _timed_async(
            f"append through the appender (batch {batch_max}, {in_flight} in flight)", append_count, append_all)
        if count != append_count:
            raise RuntimeError(f"appended {count} of {append_count}")
        await appender.checkpoint_now()
        measurements.append(appended)
        print(f"  appender: {appended.per_second:,.0f} entries/s in {appender.batches} batches", flush=True)
        tree = appender.tree
        await appender.stop()

        async def bulk_fill() -> int:
            seq = tree.size
            async with pool.acquire() as connection:
                while seq < verify_count:
                    chunk = min(50_000, verify_count - seq)
                    rows = []
                    for position in range(seq, seq + chunk):
                        row, _, leaf = adapters.entry_row(position, _hop(position))
                        rows.append(row)
                        tree.append(leaf)
                    async with connection.transaction():
                        await connection.copy_records_to_table("audit_log", records=rows,
                                                               columns=adapters._INSERT_COLUMNS)
                        await connection.execute("UPDATE audit_log_head SET next_seq = $1", seq + chunk)
                        for cut in range((seq // every + 1) * every, seq + chunk + 1, every):
                            await adapters.insert_checkpoint(connection, sign_checkpoint(
                                signer.log_id, cut, tree.root_at(cut), START + timedelta(seconds=cut),
                                signer.private_key, signer.key_id))
                    seq += chunk
            return seq

        if verify_count > tree.size:
            filled, _ = await _timed_async("fill to verify size (bulk COPY, not the appender)",
                                           verify_count - tree.size, bulk_fill)
            measurements.append(filled)
        async with pool.acquire() as connection:
            await connection.execute("VACUUM ANALYZE audit_log")
            keys = {signer.key_id: signer.public_key}

            async def verify() -> Any:
                return await verify_database(connection, log_id=signer.log_id, public_keys=keys)

            verified, result = await _timed_async(f"verify {verify_count:,} entries from PostgreSQL", verify_count, verify)
        if not result.ok:
            raise RuntimeError(f"verification of an intact log failed: {result.as_dict()}")
        measurements.append(verified)
    finally:
        await pool.close()
        connection = await asyncpg.connect(server)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
    return measurements


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
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--database", action="store_true", help="measure against PostgreSQL (see above)")
    parser.add_argument("--verify-entries", type=int, default=1_000_000, help="--database: size of the verified log")
    parser.add_argument("--in-flight", type=int, default=2000, help="--database: concurrent appends (like prefetch)")
    parser.add_argument("--batch-max", type=int, default=500, help="--database: appender batch size")
    args = parser.parse_args(argv)
    if args.database:
        output = args.output or Path(__file__).parent / "results" / "audit_database.json"
        measurements = run_database(args.entries, args.verify_entries, args.checkpoint_every, args.in_flight,
                                    args.batch_max)
        print_table(args.verify_entries, measurements)
        write_json(output, args.verify_entries, args.checkpoint_every, measurements)
        print(f"written {output}")
        return 0
    args.output = args.output or Path(__file__).parent / "results" / "audit.json"
    measurements = run(args.entries, args.checkpoint_every)
    print_table(args.entries, measurements)
    write_json(args.output, args.entries, args.checkpoint_every, measurements)
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
