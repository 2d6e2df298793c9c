from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.events import NormalisedEntity
from shared.db.columns import columns
from services.enrichment.ports import IndexedKey, StoredEntity

DEFAULT_BATCH = 2_000

_STREAM = (
    "SELECT message_id, platform, entity_type, position, canonical, handling_code FROM indexed_entities "
    "WHERE $1::text[] IS NULL OR entity_type = ANY($1::text[]) ORDER BY seq"
)


# What other messages indexed before under the keys (the insert's rows are not visible to the same statement),
# then this message's keys and entities.
_INDEX = """
WITH earlier AS (
    SELECT key, entity_type, position, platform, message_id FROM regional_index
    WHERE key = ANY($10::text[]) AND message_id <> $2 ORDER BY indexed_at DESC LIMIT 200
), keys AS (
    INSERT INTO regional_index (key, entity_type, position, platform, message_id)
    SELECT key, entity_type, position, $1, $2
    FROM unnest($4::text[], $5::text[], $6::int[]) AS k(key, entity_type, position)
    ON CONFLICT DO NOTHING
), entities AS (
    INSERT INTO indexed_entities (message_id, entity_type, position, platform, canonical, handling_code)
    SELECT $2, entity_type, position, $1, canonical::jsonb, $3
    FROM unnest($7::text[], $8::int[], $9::text[]) WITH ORDINALITY AS e(entity_type, position, canonical, n) ORDER BY n
    ON CONFLICT DO NOTHING
)
SELECT * FROM earlier
"""


class AsyncpgRegionalIndex:
    """The regional index in PostgreSQL. Works on a connection (inside a unit of work) or on a pool."""

    def __init__(self, connection: asyncpg.Connection | asyncpg.Pool) -> None:
        self._connection = connection

    async def index(
        self, entities: list[NormalisedEntity], *, platform: str, message_id: UUID, handling_code: str,
        matching: Sequence[str] = (),
    ) -> list[IndexedKey]:
        keys = [(key, e.entity_type.value, e.position) for e in entities for key in set(e.keys)]
        rows = [(e.entity_type.value, e.position, orjson.dumps(e.canonical).decode()) for e in entities]
        found = await self._connection.fetch(_INDEX, platform, message_id, handling_code, *columns(keys, 3),
                                             *columns(rows, 3), list(matching))
        return [IndexedKey(r["key"], r["entity_type"], r["position"], r["platform"], r["message_id"]) for r in found]

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
