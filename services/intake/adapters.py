from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.events import MessageDispatched, RoutingDecided
from shared.contracts.messages import MESSAGE_ADAPTER, Message
from services.intake.domain.delivery import RANK, DeliveryState

_ADVANCE = """
INSERT INTO deliveries (message_id, recipient, state, state_rank, reason, updated_at)
SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM sent_messages WHERE message_id = $1)
ON CONFLICT (message_id, recipient) DO UPDATE
SET state = EXCLUDED.state, state_rank = EXCLUDED.state_rank, reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at
WHERE deliveries.state_rank < EXCLUDED.state_rank
"""


class AsyncpgIntakeStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def record_sent(self, message: Message, *, idempotency_key: str | None = None) -> bool:
        inserted = await self._connection.fetchval(
            "INSERT INTO sent_messages (message_id, kind, correlation_id, in_reply_to, recipients, payload, submitted_by, "
            "created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) ON CONFLICT DO NOTHING "
            "RETURNING true",
            message.message_id, message.kind, message.correlation_id, message.in_reply_to, list(message.recipients),
            message.model_dump_json(), message.submitted_by.value, message.created_at, idempotency_key,
        )
        return bool(inserted)

    async def sent_with_key(self, idempotency_key: str) -> Message | None:
        payload = await self._connection.fetchval(
            "SELECT payload FROM sent_messages WHERE idempotency_key = $1", idempotency_key
        )
        return MESSAGE_ADAPTER.validate_json(payload) if payload is not None else None

    async def record_routing(self, notice: RoutingDecided) -> None:
        await self._connection.execute(
            "UPDATE sent_messages SET routing_rule = $2 WHERE message_id = $1", notice.message_id, notice.rule
        )
        for recipient in notice.recipients:
            await self.advance_delivery(notice.message_id, recipient, DeliveryState.ROUTED)
        for refused in notice.refused:
            await self.advance_delivery(notice.message_id, refused.platform, DeliveryState.NOT_ROUTED, refused.reason)

    async def advance_delivery(
        self, message_id: UUID, recipient: str, state: DeliveryState, reason: str | None = None
    ) -> None:
        await self._connection.execute(_ADVANCE, message_id, recipient, state.value, RANK[state], reason, datetime.now(UTC))

    async def save_inbox_item(self, dispatched: MessageDispatched) -> None:
        message = dispatched.message
        await self._connection.execute(
            "INSERT INTO inbox_items (message_id, kind, origin, correlation_id, priority, handling_code, rule, payload, hits, received_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10) ON CONFLICT (message_id) DO NOTHING",
            message.message_id, message.kind, message.origin, message.correlation_id, message.priority.value,
            message.handling_code.value, dispatched.rule, message.model_dump_json(),
            orjson.dumps([hit.model_dump(mode="json") for hit in dispatched.hits]).decode(), datetime.now(UTC),
        )

    async def inbox_message(self, message_id: UUID) -> Message | None:
        payload = await self._connection.fetchval("SELECT payload FROM inbox_items WHERE message_id = $1", message_id)
        return MESSAGE_ADAPTER.validate_json(payload) if payload is not None else None


class AsyncpgIntakeQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def inbox(self, *, kind: str | None, limit: int, before: str | None) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT message_id, kind, origin, rule, payload, hits, received_at FROM inbox_items "
            "WHERE ($1::text IS NULL OR kind = $1) AND ($2::timestamptz IS NULL OR received_at < $2) "
            "ORDER BY received_at DESC, message_id LIMIT $3",
            kind, datetime.fromisoformat(before) if before else None, limit,
        )
        return [
            {"message_id": str(r["message_id"]), "kind": r["kind"], "origin": r["origin"], "rule": r["rule"],
             "received_at": r["received_at"].isoformat(), "message": orjson.loads(r["payload"]),
             "hits": orjson.loads(r["hits"])}
            for r in rows
        ]

    async def sent_message(self, message_id: UUID) -> dict[str, Any] | None:
        row = await self._pool.fetchrow("SELECT payload, routing_rule FROM sent_messages WHERE message_id = $1", message_id)
        if row is None:
            return None
        deliveries = await self._pool.fetch(
            "SELECT recipient, state, reason, updated_at FROM deliveries WHERE message_id = $1 ORDER BY recipient", message_id
        )
        return {
            "message": orjson.loads(row["payload"]),
            "routing_rule": row["routing_rule"],
            "deliveries": [
                {"recipient": d["recipient"], "state": d["state"], "reason": d["reason"], "updated_at": d["updated_at"].isoformat()}
                for d in deliveries
            ],
        }
