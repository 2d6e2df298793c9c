from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.events import NormalisedEntity
from services.enrichment.ports import IndexedKey, StoredEntity

DEFAULT_BATCH = 2_000

_STREAM = (
    "SELECT message_id, platform, entity_type, position, canonical, handling_code FROM indexed_entities "
    "WHERE $1::text[] IS NULL OR entity_type = ANY($1::text[]) ORDER BY seq"
)


class AsyncpgRegionalIndex:
    """The regional index in PostgreSQL. Works on a connection (inside a unit of work) or on a pool."""

    def __init__(self, connection: asyncpg.Connection | asyncpg.Pool) -> None:
        self._connection = connection

    async def lookup(self, keys: list[str], *, excluding: UUID) -> list[IndexedKey]:
        if not keys:
            return []
        rows = await self._connection.fetch(
            "SELECT key, entity_type, position, platform, message_id FROM regional_index "
            "WHERE key = ANY($1::text[]) AND message_id <> $2 ORDER BY indexed_at DESC LIMIT 200",
            keys,
            excluding,
        )
        return [IndexedKey(r["key"], r["entity_type"], r["position"], r["platform"], r["message_id"]) for r in rows]

    async def add(self, entities: list[NormalisedEntity], *, platform: str, message_id: UUID, handling_code: str) -> None:
        await self._connection.executemany(
            "INSERT INTO regional_index (key, entity_type, position, platform, message_id) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT DO NOTHING",
            [(key, e.entity_type.value, e.position, platform, message_id) for e in entities for key in set(e.keys)],
        )
        await self._connection.executemany(
            "INSERT INTO indexed_entities (message_id, entity_type, position, platform, canonical, handling_code) "
            "VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
            [(message_id, e.entity_type.value, e.position, platform, orjson.dumps(e.canonical).decode(), handling_code)
             for e in entities],
        )

    async def stream(
        self, *, batch_size: int = DEFAULT_BATCH, entity_types: Sequence[str] | None = None
    ) -> AsyncIterator[list[StoredEntity]]:
        """A server-side cursor in one read-only snapshot: memory stays at one batch whatever the table's size."""
        types = [str(t) for t in entity_types] if entity_types is not None else None
        async with self._dedicated() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
            cursor = await connection.cursor(_STREAM, types)
            while rows := await cursor.fetch(batch_size):
                yield [
                    StoredEntity(r["message_id"], r["platform"], r["entity_type"], r["position"],
                                 orjson.loads(r["canonical"]), r["handling_code"])
                    for r in rows
                ]

    @asynccontextmanager
    async def _dedicated(self) -> AsyncIterator[asyncpg.Connection]:
        if isinstance(self._connection, asyncpg.Pool):
            async with self._connection.acquire() as connection:
                yield connection
        else:
            yield self._connection
