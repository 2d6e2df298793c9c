from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from itertools import count
from operator import itemgetter
from uuid import UUID

import asyncpg
import orjson

from shared.db.columns import columns
from services.enrichment.ports import MOST_FOUND, IndexedKey, MessageToIndex, StoredEntity, StoredSince

DEFAULT_BATCH = 2_000

_STREAM = (
    "SELECT message_id, platform, entity_type, position, canonical, handling_code, seq FROM indexed_entities "
    "WHERE $1::text[] IS NULL OR entity_type = ANY($1::text[]) ORDER BY seq"
)
_STORED_SINCE = (
    "SELECT max(seq) AS newest, coalesce(array_agg(DISTINCT message_id), '{}') AS message_ids FROM indexed_entities "
    "WHERE seq > $1 AND ($2::text[] IS NULL OR entity_type = ANY($2::text[]))"
)
_ENTITIES_OF = (
    "SELECT message_id, platform, entity_type, position, canonical, handling_code, seq FROM indexed_entities "
    "WHERE message_id = ANY($1::uuid[]) AND ($2::text[] IS NULL OR entity_type = ANY($2::text[])) ORDER BY seq"
)


# Several messages: for each message and key it asks about, the newest rows of other messages under the key (a
# message's newest MOST_FOUND are among its keys' newest MOST_FOUND each); then every message's keys and entities.
# The inserts' rows are not visible to the same statement: what the messages of one call share is found in Python
# (_found_in_turn).
_INDEX_MANY = f"""
WITH earlier AS (
    SELECT asked.asker, found.* FROM unnest($1::int[], $2::text[], $3::uuid[]) AS asked(asker, key, own)
    CROSS JOIN LATERAL (
        SELECT key, entity_type, position, platform, message_id, indexed_at FROM regional_index
        WHERE regional_index.key = asked.key AND regional_index.message_id <> asked.own
        ORDER BY indexed_at DESC LIMIT {MOST_FOUND}
    ) AS found
), keys AS (
    INSERT INTO regional_index (key, entity_type, position, platform, message_id)
    SELECT * FROM unnest($4::text[], $5::text[], $6::int[], $7::text[], $8::uuid[])
    ON CONFLICT DO NOTHING
), entities AS (
    INSERT INTO indexed_entities (message_id, entity_type, position, platform, canonical, handling_code)
    SELECT message_id, entity_type, position, platform, canonical::jsonb, handling_code
    FROM unnest($9::uuid[], $10::text[], $11::int[], $12::text[], $13::text[], $14::text[]) WITH ORDINALITY
         AS e(message_id, entity_type, position, platform, canonical, handling_code, n) ORDER BY n
    ON CONFLICT DO NOTHING
)
SELECT asker, key, entity_type, position, platform, message_id FROM earlier ORDER BY asker, indexed_at DESC
"""
# A message alone: its newest MOST_FOUND, and its keys and entities, with the message's own values as single
# parameters. PostgreSQL spends less on it than on the form for several messages: about 200 µs of its CPU a message
# on a connection that reuses plans, and less in the pipeline at 50 alerts/s in five comparisons of six
# (docs/benchmarks.md, 6 Dec, small hours).
_INDEX_ONE = f"""
WITH earlier AS (
    SELECT key, entity_type, position, platform, message_id FROM regional_index
    WHERE key = ANY($10::text[]) AND message_id <> $2 ORDER BY indexed_at DESC LIMIT {MOST_FOUND}
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


def _found_in_turn(messages: Sequence[MessageToIndex], stored: list[list[IndexedKey]]) -> list[list[IndexedKey]]:
    """For each message, under its matching keys: the keys of the messages before it in the call (the last added
    first), then what was stored before the call (newest first), each row once."""
    answers: list[list[IndexedKey]] = []
    asked = {key for message in messages for key in message.matching}
    added: dict[str, list[tuple[int, IndexedKey]]] = {}  # an asked key -> (when the call added it, what it added)
    order = count()
    for turn, message in enumerate(messages):
        earlier_in_call = sorted(
            (entry for key in dict.fromkeys(message.matching) for entry in added.get(key, ())
             if entry[1].message_id != message.message_id), key=itemgetter(0), reverse=True)
        rows = dict.fromkeys([*(row for _, row in earlier_in_call), *stored[turn]])
        answers.append(list(rows)[:MOST_FOUND])
        for e in message.entities:
            for key in dict.fromkeys(e.keys):
                if key in asked:
                    added.setdefault(key, []).append(
                        (next(order), IndexedKey(key, e.entity_type.value, e.position, message.platform,
                                                 message.message_id)))
    return answers


def _indexed_key(row: asyncpg.Record) -> IndexedKey:
    return IndexedKey(row["key"], row["entity_type"], row["position"], row["platform"], row["message_id"])


class AsyncpgRegionalIndex:
    """The regional index in PostgreSQL. Works on a connection (inside a unit of work) or on a pool."""

    def __init__(self, connection: asyncpg.Connection | asyncpg.Pool) -> None:
        self._connection = connection

    async def index_many(self, messages: Sequence[MessageToIndex]) -> list[list[IndexedKey]]:
        if not any(message.entities or message.matching for message in messages):
            return [[] for _ in messages]
        if len(messages) == 1:
            return [await self._index_one(messages[0])]
        asked = [(turn, key, m.message_id) for turn, m in enumerate(messages) for key in dict.fromkeys(m.matching)]
        keys = [(key, e.entity_type.value, e.position, m.platform, m.message_id)
                for m in messages for e in m.entities for key in set(e.keys)]
        rows = [(m.message_id, e.entity_type.value, e.position, m.platform, orjson.dumps(e.canonical).decode(),
                 m.handling_code) for m in messages for e in m.entities]
        found = await self._connection.fetch(_INDEX_MANY, *columns(asked, 3), *columns(keys, 5), *columns(rows, 6))
        stored: list[list[IndexedKey]] = [[] for _ in messages]
        for row in found:
            stored[row["asker"]].append(_indexed_key(row))
        return _found_in_turn(messages, stored)

    async def _index_one(self, message: MessageToIndex) -> list[IndexedKey]:
        keys = [(key, e.entity_type.value, e.position) for e in message.entities for key in set(e.keys)]
        rows = [(e.entity_type.value, e.position, orjson.dumps(e.canonical).decode()) for e in message.entities]
        found = await self._connection.fetch(_INDEX_ONE, message.platform, message.message_id, message.handling_code,
                                             *columns(keys, 3), *columns(rows, 3), list(message.matching))
        return [_indexed_key(row) for row in found]

    async def stream(
        self, *, batch_size: int = DEFAULT_BATCH, entity_types: Sequence[str] | None = None
    ) -> AsyncIterator[list[StoredEntity]]:
        """A server-side cursor in one read-only snapshot: memory stays at one batch whatever the table's size."""
        async with self._dedicated() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
            cursor = await connection.cursor(_STREAM, _types(entity_types))
            while rows := await cursor.fetch(batch_size):
                yield [_stored_entity(r) for r in rows]

    async def stored_since(self, seq: int, *, entity_types: Sequence[str] | None = None) -> StoredSince:
        row = await self._connection.fetchrow(_STORED_SINCE, seq, _types(entity_types))
        return StoredSince(seq if row["newest"] is None else row["newest"], list(row["message_ids"]))

    async def entities_of(self, message_ids: Sequence[UUID], *, entity_types: Sequence[str] | None = None
                          ) -> list[StoredEntity]:
        return [_stored_entity(r) for r in await self._connection.fetch(_ENTITIES_OF, list(message_ids),
                                                                        _types(entity_types))]

    @asynccontextmanager
    async def _dedicated(self) -> AsyncIterator[asyncpg.Connection]:
        if isinstance(self._connection, asyncpg.Pool):
            async with self._connection.acquire() as connection:
                yield connection
        else:
            yield self._connection


def _types(entity_types: Sequence[str] | None) -> list[str] | None:
    return [str(t) for t in entity_types] if entity_types is not None else None


def _stored_entity(row: asyncpg.Record) -> StoredEntity:
    return StoredEntity(row["message_id"], row["platform"], row["entity_type"], row["position"],
                        orjson.loads(row["canonical"]), row["handling_code"], row["seq"])
