from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.events import HopRecorded

_COLUMNS = "seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail, recorded_at"


class AsyncpgAuditLog:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def append(self, event: HopRecorded) -> bool:
        inserted = await self._connection.fetchval(
            "INSERT INTO audit_log (event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) ON CONFLICT (event_id) DO NOTHING RETURNING true",
            event.event_id, event.message_id, event.correlation_id, event.kind, event.hop.value, event.platform,
            event.service, event.actor, event.at, orjson.dumps(event.detail).decode(),
        )
        return bool(inserted)


class AsyncpgAuditQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def trail(self, message_id: UUID) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM audit_log WHERE message_id = $1 ORDER BY at, seq", message_id)
        return [_entry(row) for row in rows]


def _entry(row: asyncpg.Record) -> dict[str, Any]:
    entry = dict(row)
    detail = entry["detail"]
    entry["detail"] = orjson.loads(detail) if isinstance(detail, str) else detail
    return entry
