"""PostgreSQL tables `api_users` and `security_events` (shared/db/migrations/0004_api_users_security_events.sql)."""

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from shared.security.ports import ApiUser, SecurityEvent

_USER_COLUMNS = "token_id, platform, name, role, secret_sha256, created_at, revoked_at"


def _user(row: asyncpg.Record) -> ApiUser:
    return ApiUser(**dict(row))


class AsyncpgTokenStore:
    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = pool

    async def add(self, user: ApiUser, *, created_by: str | None = None) -> None:
        await self._db.execute(
            "INSERT INTO api_users (token_id, platform, name, role, secret_sha256, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
            user.token_id, user.platform, user.name, user.role, user.secret_sha256, created_by,
        )

    async def find(self, token_id: str) -> ApiUser | None:
        row = await self._db.fetchrow(f"SELECT {_USER_COLUMNS} FROM api_users WHERE token_id = $1", token_id)
        return _user(row) if row else None

    async def revoke(self, *, platform: str, name: str | None = None, token_id: str | None = None,
                     revoked_by: str | None = None) -> list[str]:
        if (name is None) == (token_id is None):
            raise ValueError("revoke by name or by token id, one of them")
        rows = await self._db.fetch(
            "UPDATE api_users SET revoked_at = now(), revoked_by = $4 WHERE platform = $1 AND revoked_at IS NULL "
            "AND (($2::text IS NOT NULL AND name = $2) OR ($3::text IS NOT NULL AND token_id = $3)) RETURNING token_id",
            platform, name, token_id, revoked_by,
        )
        return [row["token_id"] for row in rows]

    async def users(self, *, include_revoked: bool = False) -> list[ApiUser]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = await self._db.fetch(f"SELECT {_USER_COLUMNS} FROM api_users{where} ORDER BY platform, name, created_at")
        return [_user(row) for row in rows]


class AsyncpgSecurityEventLog:
    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = pool

    async def record(self, event: SecurityEvent) -> None:
        await self._db.execute(
            "INSERT INTO security_events (at, platform, service, kind, status, reason, token_id, actor, role, method, "
            "path, client, detail) VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)",
            event.at, event.platform, event.service, event.kind, event.status, event.reason[:500], event.token_id,
            event.actor, event.role, event.method, (event.path or "")[:500] or None, event.client,
            orjson.dumps(event.detail).decode(),
        )

    async def query(self, *, since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:
        rows = await self._db.fetch(
            "SELECT id, at, platform, service, kind, status, reason, token_id, actor, role, method, path, client, detail "
            "FROM security_events WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2) "
            "AND ($3::text IS NULL OR kind = $3) ORDER BY id DESC LIMIT $4",
            since, until, kind, limit,
        )
        return [dict(row) | {"detail": orjson.loads(row["detail"]) if row["detail"] else {}} for row in rows]
