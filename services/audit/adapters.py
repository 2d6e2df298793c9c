"""PostgreSQL side of the audit log: appends under the writer role, checkpoints, witness state, queries.

Every write here runs inside a transaction as role pcms_audit_writer (SET LOCAL ROLE), which may
only INSERT and SELECT the audit tables (and move the one-row counter forward); see
migrations/0002_audit_tamper_evident.sql for the grants and the triggers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.events import HopRecorded
from shared.db.columns import columns
from services.audit.domain.checkpoint import Checkpoint
from services.audit.domain.entry import canonical_json, canonical_time, content_text, leaf_hash_for

WRITER_ROLE = "pcms_audit_writer"
LEGACY_TABLE = "audit_log_v1"

# The canonical time text, computed by PostgreSQL: identical to entry.canonical_time.
AT_TEXT = """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

# A trail is shown in causal order: the stage of the hop, then time. (`published` is stamped when the
# broker confirmed, which can be after the hub already enriched the message.)
HOP_STAGES = ("accepted", "published", "enriched", "routed", "delivered", "acknowledged", "quarantined", "read")
STAGE_ORDER = "array_position(ARRAY" + repr(list(HOP_STAGES)) + "::text[], hop)"

_COLUMNS = (
    "seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail, recorded_at, "
    "content_sha256, leaf_hash, purged_at"
)
_INSERT_COLUMNS = (
    "seq", "event_id", "message_id", "correlation_id", "kind", "hop", "platform", "service", "actor", "at", "detail",
    "content_sha256", "leaf_hash",
)
# What verification reads: everything that goes into the hash, as text.
VERIFY_SELECT = (
    "SELECT seq, event_id::text, message_id::text, correlation_id::text, kind, hop, platform, service, actor, "
    f"{AT_TEXT}, detail::text, content_sha256, leaf_hash, purged_at IS NOT NULL FROM audit_log ORDER BY seq"
)


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


def entry_row(seq: int, event: HopRecorded) -> tuple[tuple[Any, ...], str, bytes]:
    """The row to insert for `event` at `seq`, its content digest and its leaf hash."""
    detail_text = canonical_json(dict(event.detail)).decode()
    text = content_text(
        event_id=str(event.event_id), kind=event.kind, message_id=str(event.message_id),
        correlation_id=str(event.correlation_id) if event.correlation_id else None, hop=_value(event.hop),
        platform=event.platform, service=event.service, actor=event.actor, at_text=canonical_time(event.at),
        detail_text=detail_text,
    )
    digest = hashlib.sha256(text.encode()).hexdigest()
    leaf = leaf_hash_for(seq, digest)
    row = (seq, event.event_id, event.message_id, event.correlation_id, event.kind, _value(event.hop), event.platform,
           event.service, event.actor, event.at, detail_text, digest, leaf)
    return row, digest, leaf


def stored_digest(row: Sequence[Any]) -> str:
    """Content digest recomputed from a VERIFY_SELECT row (the stored digest for a purged row)."""
    (_, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at_text, detail_text,
     stored, _, purged) = row
    if purged:
        return stored
    text = content_text(
        event_id=event_id, kind=kind, message_id=message_id, correlation_id=correlation_id, hop=hop,
        platform=platform, service=service, actor=actor, at_text=at_text, detail_text=detail_text,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AppendResult:
    start: int  # the seq the batch started at
    seqs: list[int | None]  # per event: its seq, or None when it was already recorded
    leaves: list[bytes]  # leaf hashes of the inserted entries, in seq order


_APPEND = f"""
WITH appended AS (
    INSERT INTO audit_log ({", ".join(_INSERT_COLUMNS)})
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::timestamptz[], $11::json[], $12::text[], $13::bytea[])
)
UPDATE audit_log_head SET next_seq = $14
"""


async def append_events(
    connection: asyncpg.Connection, events: Sequence[HopRecorded], *, reset_role: bool = True
) -> AppendResult:
    """Appends in the caller's transaction: next seq from the locked counter row, gap-free. The entries and the
    counter's move are one statement. With `reset_role` False, the rest of the caller's transaction stays under
    the writer role (one round trip fewer: the appender's commit does nothing else that needs more)."""
    await connection.execute(f"SET LOCAL ROLE {WRITER_ROLE}")
    start = await connection.fetchval("SELECT next_seq FROM audit_log_head FOR UPDATE")
    ids = [event.event_id for event in events]
    existing = {str(row[0]) for row in await connection.fetch(
        "SELECT event_id FROM audit_log WHERE event_id = ANY($1::uuid[])", ids)}
    seqs: list[int | None] = []
    rows: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    seq = start
    for event in events:
        if str(event.event_id) in existing:
            seqs.append(None)
            continue
        existing.add(str(event.event_id))
        row, _, leaf = entry_row(seq, event)
        rows.append(row)
        leaves.append(leaf)
        seqs.append(seq)
        seq += 1
    if rows:
        await connection.execute(_APPEND, *columns(rows), seq)
    if reset_role:
        await connection.execute("RESET ROLE")
    return AppendResult(start, seqs, leaves)


async def leaf_hashes(connection: asyncpg.Connection | asyncpg.Pool, start: int = 0, end: int | None = None) -> list[bytes]:
    if end is None:
        rows = await connection.fetch("SELECT leaf_hash FROM audit_log WHERE seq >= $1 ORDER BY seq", start)
    else:
        rows = await connection.fetch(
            "SELECT leaf_hash FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq", start, end)
    return [bytes(row[0]) for row in rows]


async def next_seq(connection: asyncpg.Connection | asyncpg.Pool) -> int:
    return await connection.fetchval("SELECT next_seq FROM audit_log_head")


async def insert_checkpoint(connection: asyncpg.Connection, checkpoint: Checkpoint) -> None:
    await connection.execute(f"SET LOCAL ROLE {WRITER_ROLE}")
    await connection.execute(
        "INSERT INTO audit_checkpoints (log_id, size, root, at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)",
        checkpoint.log_id, checkpoint.size, checkpoint.root, checkpoint.at, checkpoint.key_id, checkpoint.signature,
    )
    await connection.execute("RESET ROLE")


async def checkpoints(connection: asyncpg.Connection | asyncpg.Pool, log_id: str | None = None) -> list[Checkpoint]:
    rows = await connection.fetch(
        "SELECT log_id, size, root, at, key_id, signature FROM audit_checkpoints "
        "WHERE $1::text IS NULL OR log_id = $1 ORDER BY size, id", log_id)
    return [_checkpoint(row) for row in rows]


def _checkpoint(row: asyncpg.Record) -> Checkpoint:
    return Checkpoint(log_id=row["log_id"], size=row["size"], root=bytes(row["root"]), at=row["at"],
                      key_id=row["key_id"], signature=bytes(row["signature"]))


async def purge_before(connection: asyncpg.Connection | asyncpg.Pool, before: datetime) -> int:
    """Blanks the content of entries older than `before` through audit_purge (SECURITY DEFINER)."""
    return await connection.fetchval("SELECT audit_purge($1)", before)


async def legacy_rows(connection: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", LEGACY_TABLE)
    if not exists:
        return []
    return await connection.fetch(
        f"SELECT seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail "
        f"FROM {LEGACY_TABLE} ORDER BY seq LIMIT $1", limit)


async def forget_legacy(connection: asyncpg.Connection, seqs: list[int]) -> None:
    await connection.execute(f"DELETE FROM {LEGACY_TABLE} WHERE seq = ANY($1::bigint[])", seqs)


def legacy_event(row: asyncpg.Record) -> HopRecorded:
    detail = row["detail"]
    data = dict(row) | {"detail": orjson.loads(detail) if isinstance(detail, str) else dict(detail or {})}
    data.pop("seq")
    try:
        return HopRecorded.model_validate(data)
    except ValueError:
        return HopRecorded.model_construct(**data)  # recorded before the contract tightened: keep it as it was


class AsyncpgAuditLog:
    """One append per call, in the caller's transaction (a connection) or its own (a pool).

    The audit service itself appends through services.audit.appender.AuditAppender, which batches;
    this is for the unit-of-work path and for tools.
    """

    def __init__(self, connection: asyncpg.Connection | asyncpg.Pool) -> None:
        self._connection = connection

    async def append(self, event: HopRecorded) -> bool:
        if isinstance(self._connection, asyncpg.Pool):
            async with self._connection.acquire() as connection, connection.transaction():
                result = await append_events(connection, [event])
        elif self._connection.is_in_transaction():
            result = await append_events(self._connection, [event])
        else:
            async with self._connection.transaction():
                result = await append_events(self._connection, [event])
        return result.seqs[0] is not None


class AsyncpgAuditQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def trail(self, message_id: UUID, *, include_reads: bool = False) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM audit_log WHERE message_id = $1 AND ($2 OR hop <> 'read') "
            f"ORDER BY {STAGE_ORDER}, at, seq",
            message_id, include_reads)
        return [entry_dict(row) for row in rows]

    async def platform_activity(
        self, platform: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM audit_log WHERE platform = $1 AND hop <> 'read' "
            "AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3) "
            "ORDER BY at, seq LIMIT $4",
            platform, since, until, limit)
        return [entry_dict(row) for row in rows]

    async def reads(self, message_id: UUID) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM audit_log WHERE message_id = $1 AND hop = 'read' ORDER BY at, seq", message_id)
        return [entry_dict(row) for row in rows]

    async def log_state(self) -> dict[str, Any]:
        size = await next_seq(self._pool)
        latest = await self._pool.fetchrow(
            "SELECT log_id, size, root, at, key_id FROM audit_checkpoints ORDER BY size DESC, id DESC LIMIT 1")
        count = await self._pool.fetchval("SELECT count(*) FROM audit_checkpoints")
        return {
            "size": size,
            "checkpoints": count,
            "latest_checkpoint": None if latest is None else {
                "log_id": latest["log_id"], "size": latest["size"], "root": bytes(latest["root"]).hex(),
                "at": latest["at"], "key_id": latest["key_id"],
            },
        }


def direction(hop: str | None) -> str | None:
    """What an entry at platform P means for P: it sent, it received, or something else happened there."""
    return {"accepted": "sent", "published": "sent", "delivered": "received", "acknowledged": "acknowledged"}.get(
        hop or "", hop)


def entry_dict(row: asyncpg.Record) -> dict[str, Any]:
    entry = dict(row)
    detail = entry["detail"]
    entry["detail"] = orjson.loads(detail) if isinstance(detail, str) else detail
    entry["leaf_hash"] = bytes(entry["leaf_hash"]).hex()
    entry["purged"] = entry.pop("purged_at") is not None
    return entry


# The witness's side: what this platform holds of another platform's (the hub's) log.

@dataclass(frozen=True, slots=True)
class WitnessRecord:
    checkpoint: Checkpoint
    previous_size: int
    status: str
    reason: str
    detail: str
    message: dict[str, Any] | None


async def witness_keys(connection: asyncpg.Connection | asyncpg.Pool, log_id: str | None = None) -> dict[str, bytes]:
    rows = await connection.fetch(
        "SELECT key_id, public_key FROM audit_witness_keys WHERE $1::text IS NULL OR log_id = $1", log_id)
    return {row["key_id"]: bytes(row["public_key"]) for row in rows}


async def learn_witness_key(connection: asyncpg.Connection, key_id: str, log_id: str, raw: bytes, source: str) -> None:
    await connection.execute(f"SET LOCAL ROLE {WRITER_ROLE}")
    await connection.execute(
        "INSERT INTO audit_witness_keys (key_id, log_id, public_key, source) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (key_id) DO NOTHING", key_id, log_id, raw, source)
    await connection.execute("RESET ROLE")


async def record_witness(connection: asyncpg.Connection, record: WitnessRecord) -> None:
    checkpoint = record.checkpoint
    await connection.execute(f"SET LOCAL ROLE {WRITER_ROLE}")
    await connection.execute(
        "INSERT INTO audit_witness_checkpoints (log_id, size, root, at, key_id, signature, previous_size, status, "
        "reason, detail, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::json)",
        checkpoint.log_id, checkpoint.size, checkpoint.root, checkpoint.at, checkpoint.key_id, checkpoint.signature,
        record.previous_size, record.status, record.reason, record.detail,
        orjson.dumps(record.message).decode() if record.message is not None else None,
    )
    await connection.execute("RESET ROLE")


async def witness_checkpoints(
    connection: asyncpg.Connection | asyncpg.Pool, log_id: str | None = None, status: str = "accepted"
) -> list[Checkpoint]:
    rows = await connection.fetch(
        "SELECT log_id, size, root, at, key_id, signature FROM audit_witness_checkpoints "
        "WHERE ($1::text IS NULL OR log_id = $1) AND status = $2 ORDER BY size, id", log_id, status)
    return [_checkpoint(row) for row in rows]


async def unresolved_pending(connection: asyncpg.Connection, log_id: str) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT DISTINCT ON (p.size, p.root) p.message::text AS message FROM audit_witness_checkpoints p "
        "WHERE p.log_id = $1 AND p.status = 'pending' AND NOT EXISTS ("
        "  SELECT 1 FROM audit_witness_checkpoints d WHERE d.log_id = p.log_id AND d.size = p.size "
        "  AND d.root = p.root AND d.status <> 'pending' AND d.id > p.id) "
        "ORDER BY p.size, p.root, p.id", log_id)
    return [orjson.loads(row["message"]) for row in rows if row["message"]]


async def witness_summary(connection: asyncpg.Connection | asyncpg.Pool, log_id: str) -> dict[str, Any]:
    counts = {row["status"]: row["n"] for row in await connection.fetch(
        "SELECT status, count(*) AS n FROM audit_witness_checkpoints WHERE log_id = $1 GROUP BY status", log_id)}
    rejections = await connection.fetch(
        "SELECT size, root, reason, detail, received_at FROM audit_witness_checkpoints "
        "WHERE log_id = $1 AND status = 'rejected' ORDER BY id DESC LIMIT 20", log_id)
    return {
        "counts": counts,
        "recent_rejections": [
            {"size": row["size"], "root": bytes(row["root"]).hex(), "reason": row["reason"], "detail": row["detail"],
             "received_at": row["received_at"]} for row in rejections
        ],
    }


async def mirror_leaves(connection: asyncpg.Connection | asyncpg.Pool, log_id: str) -> list[bytes]:
    rows = await connection.fetch("SELECT leaf_hash FROM audit_witness_leaves WHERE log_id = $1 ORDER BY seq", log_id)
    return [bytes(row[0]) for row in rows]


async def add_mirror_leaves(connection: asyncpg.Connection, log_id: str, start: int, leaves: Sequence[bytes]) -> None:
    await connection.execute(f"SET LOCAL ROLE {WRITER_ROLE}")
    await connection.copy_records_to_table(
        "audit_witness_leaves", records=[(log_id, start + i, leaf) for i, leaf in enumerate(leaves)],
        columns=("log_id", "seq", "leaf_hash"))
    await connection.execute("RESET ROLE")


async def stream_rows(connection: asyncpg.Connection, chunk: int = 20_000) -> AsyncIterator[list[asyncpg.Record]]:
    """VERIFY_SELECT rows in seq order, in chunks, from a server-side cursor (call inside a transaction).

    The next chunk is requested before the current one is handed out, so PostgreSQL produces it while
    the caller hashes (the caller should yield to the loop now and then, see verification.read_log).
    """
    cursor = await connection.cursor(VERIFY_SELECT)
    pending = asyncio.ensure_future(cursor.fetch(chunk))
    try:
        while rows := await pending:
            pending = asyncio.ensure_future(cursor.fetch(chunk))
            yield rows
    finally:
        if not pending.done():
            pending.cancel()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
