from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.messages import Message
from services.routing.domain.decisions import Original, RoutingDecision


class AsyncpgRoutingStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def original(self, message_id: UUID) -> Original | None:
        row = await self._connection.fetchrow(
            "SELECT origin, recipients, held FROM routed_messages WHERE message_id = $1", message_id
        )
        return Original(message_id, row["origin"], (*row["recipients"], *row["held"])) if row else None

    async def record(self, message: Message, decision: RoutingDecision) -> None:
        await self._connection.execute(
            "INSERT INTO routed_messages (message_id, origin, kind, correlation_id, rule, recipients, refused, held, "
            "decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9) ON CONFLICT (message_id) DO NOTHING",
            message.message_id, message.origin, message.kind, message.correlation_id, decision.rule,
            decision.recipients, orjson.dumps(decision.refused).decode(), decision.held, datetime.now(UTC),
        )
