from uuid import UUID

import asyncpg
import orjson

from shared.contracts.events import NormalisedEntity
from services.enrichment.ports import IndexedKey


class AsyncpgRegionalIndex:
    def __init__(self, connection: asyncpg.Connection) -> None:
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
