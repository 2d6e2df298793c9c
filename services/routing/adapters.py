from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.messages import Message
from shared.db.columns import columns
from services.routing.domain.decisions import Original, RoutingDecision


# Recipients travel joined by commas: platform codes have none.
_RECORD = """
INSERT INTO routed_messages (message_id, origin, kind, correlation_id, rule, recipients, refused, held, decided_at)
SELECT message_id, origin, kind, correlation_id, rule, string_to_array(recipients, ','), refused::jsonb,
       string_to_array(held, ','), $9
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
     AS decision(message_id, origin, kind, correlation_id, rule, recipients, refused, held)
ON CONFLICT (message_id) DO NOTHING
"""


class AsyncpgRoutingStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def original(self, message_id: UUID) -> Original | None:
        row = await self._connection.fetchrow(
            "SELECT origin, recipients, held FROM routed_messages WHERE message_id = $1", message_id
        )
        return Original(message_id, row["origin"], (*row["recipients"], *row["held"])) if row else None

    async def record(self, decisions: list[tuple[Message, RoutingDecision]]) -> None:
        rows = {message.message_id: (
            message.message_id, message.origin, message.kind, message.correlation_id, decision.rule,
            ",".join(decision.recipients), orjson.dumps(decision.refused).decode(), ",".join(decision.held))
            for message, decision in reversed(decisions)}  # the first decision of a message counts, as in the table
        if rows:
            await self._connection.execute(_RECORD, *columns(rows.values()), datetime.now(UTC))
