from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.common import HandlingCode, Language, Priority
from shared.contracts.events import MatchFound, MessageDispatched
from shared.contracts.messages import MESSAGE_ADAPTER, Message
from shared.db.columns import columns
from services.intake.domain.acknowledgements import Received
from services.intake.domain.alerts import alert_state
from services.intake.domain.delivery import RANK, DeliveryState
from services.intake.domain.rfis import RfiStatus, TrackedRfi, shown_status

_ADVANCE = """
INSERT INTO deliveries (message_id, recipient, state, state_rank, reason, updated_at)
SELECT message_id, recipient, state, state_rank, reason, $6
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::smallint[], $5::text[])
     AS change(message_id, recipient, state, state_rank, reason)
WHERE EXISTS (SELECT 1 FROM sent_messages WHERE sent_messages.message_id = change.message_id)
ON CONFLICT (message_id, recipient) DO UPDATE
SET state = EXCLUDED.state, state_rank = EXCLUDED.state_rank, reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at
WHERE deliveries.state_rank < EXCLUDED.state_rank
"""


_SAVE_MATCHES = """
INSERT INTO match_notifications (notification_id, message_id, origin, kind, handling_code, references_only, hits,
                                 notified_at, received_at)
SELECT id, message_id, origin, kind, handling_code, references_only, hits::jsonb, notified_at, received_at
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::timestamptz[],
            $9::timestamptz[]) AS given(id, message_id, origin, kind, handling_code, references_only, hits, notified_at,
                                        received_at)
ON CONFLICT (notification_id) DO NOTHING
"""


_RECORD_ROUTING_RULES = """
UPDATE sent_messages SET routing_rule = rule.rule
FROM unnest($1::uuid[], $2::text[]) AS rule(message_id, rule)
WHERE sent_messages.message_id = rule.message_id
RETURNING CASE WHEN kind = 'rfi' THEN payload END
"""


# One statement for a whole import request; recipients travel joined by commas (platform codes and ALL have none).
_RECORD_SENT_MANY = """
INSERT INTO sent_messages (message_id, kind, correlation_id, in_reply_to, recipients, payload, submitted_by, created_at,
                           idempotency_key)
SELECT id, kind, correlation, reply_to, string_to_array(recipients, ','), payload::jsonb, submitted_by, created_at, key
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
            $9::text[]) AS given(id, kind, correlation, reply_to, recipients, payload, submitted_by, created_at, key)
ON CONFLICT DO NOTHING
RETURNING message_id
"""

_TAKE_QUEUED_RECEIPTS = """
DELETE FROM pending_receipts WHERE message_id IN (
    SELECT message_id FROM pending_receipts WHERE lane = $1 ORDER BY queued_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
RETURNING message_id, origin, correlation_id, priority, handling_code, handling_note, language, queued_at
"""


_SAVE_INBOX_ITEMS = """
INSERT INTO inbox_items (message_id, kind, origin, correlation_id, priority, handling_code, rule, payload, hits,
                         received_at, alert_state, valid_until)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                     $9::jsonb[], $10::timestamptz[], $11::text[], $12::timestamptz[])
ON CONFLICT (message_id) DO NOTHING
"""
_QUEUE_RECEIPTS = """
INSERT INTO pending_receipts (message_id, lane, origin, correlation_id, priority, handling_code, handling_note, language)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
ON CONFLICT (message_id) DO NOTHING
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

    async def sent_with_keys(self, idempotency_keys: list[str]) -> dict[str, Message]:
        rows = await self._connection.fetch(
            "SELECT idempotency_key, payload FROM sent_messages WHERE idempotency_key = ANY($1::text[])", idempotency_keys)
        return {row["idempotency_key"]: MESSAGE_ADAPTER.validate_json(row["payload"]) for row in rows}

    async def sent_ids_with_keys(self, idempotency_keys: list[str]) -> dict[str, UUID]:
        rows = await self._connection.fetch(
            "SELECT idempotency_key, message_id FROM sent_messages WHERE idempotency_key = ANY($1::text[])", idempotency_keys)
        return {row["idempotency_key"]: row["message_id"] for row in rows}

    async def record_sent_many(self, messages: list[tuple[Message, str | None]]) -> set[UUID]:
        if not messages:
            return set()
        rows = await self._connection.fetch(_RECORD_SENT_MANY, *columns(
            (m.message_id, m.kind, m.correlation_id, m.in_reply_to, ",".join(m.recipients), m.model_dump_json(),
             m.submitted_by.value, m.created_at, key) for m, key in messages))
        return {row["message_id"] for row in rows}

    async def record_routing_rules(self, rules: list[tuple[UUID, str]]) -> list[Message]:
        latest = dict(rules)  # one row each: a statement may not update a row twice
        rows = await self._connection.fetch(_RECORD_ROUTING_RULES, *columns(latest.items(), 2))
        return [MESSAGE_ADAPTER.validate_json(row[0]) for row in rows if row[0] is not None]

    async def save_matches(self, notifications: list[MatchFound]) -> None:
        if not notifications:
            return
        received_at = datetime.now(UTC)
        await self._connection.execute(_SAVE_MATCHES, *columns(
            (n.notification_id, n.message_id, n.origin, n.kind, n.handling_code, n.references_only,
             orjson.dumps([hit.model_dump(mode="json") for hit in n.hits]).decode(), n.notified_at, received_at)
            for n in notifications))

    async def advance_delivery(
        self, message_id: UUID, recipient: str, state: DeliveryState, reason: str | None = None
    ) -> None:
        await self.advance_deliveries([(message_id, recipient, state, reason)])

    async def advance_deliveries(self, changes: list[tuple[UUID, str, DeliveryState, str | None]]) -> None:
        strongest: dict[tuple[UUID, str], tuple[DeliveryState, str | None]] = {}  # a statement updates a row once
        for message_id, recipient, state, reason in changes:
            current = strongest.get((message_id, recipient))
            if current is None or RANK[state] > RANK[current[0]]:
                strongest[(message_id, recipient)] = (state, reason)
        if strongest:
            rows = [(message_id, recipient, state.value, RANK[state], reason)
                    for (message_id, recipient), (state, reason) in strongest.items()]
            await self._connection.execute(_ADVANCE, *columns(rows), datetime.now(UTC))

    async def save_inbox_items(self, dispatched: list[MessageDispatched]) -> None:
        if not dispatched:
            return
        now = datetime.now(UTC)
        rows = [(m.message_id, m.kind, m.origin, m.correlation_id, m.priority.value, m.handling_code.value, d.rule,
                 m.model_dump_json(), orjson.dumps([hit.model_dump(mode="json") for hit in d.hits]).decode(), now,
                 "active" if m.kind == "alert" else None, getattr(m.body, "valid_until", None))
                for d in dispatched for m in (d.message,)]
        await self._connection.execute(_SAVE_INBOX_ITEMS, *columns(rows))

    async def track_rfi(self, message_id: UUID, direction: str, counterpart: str, asked_at: datetime,
                        deadline: datetime) -> None:
        await self._connection.execute(
            "INSERT INTO rfis (message_id, direction, counterpart, asked_at, deadline) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT DO NOTHING", message_id, direction, counterpart, asked_at, deadline,
        )

    async def close_rfi(self, message_id: UUID, direction: str, counterpart: str | None, status: RfiStatus,
                        closed_by: UUID) -> None:
        await self._connection.execute(
            "UPDATE rfis SET status = $4, closed_by = $5, closed_at = now() WHERE message_id = $1 AND direction = $2 "
            "AND ($3::text IS NULL OR counterpart = $3) AND status = 'open'",
            message_id, direction, counterpart, status.value, closed_by,
        )

    async def open_rfis(self) -> list[TrackedRfi]:
        rows = await self._connection.fetch(
            "SELECT message_id, direction, counterpart, asked_at, deadline, status, reminded_at, overdue_notified_at "
            "FROM rfis WHERE status = 'open' ORDER BY deadline LIMIT 5000"
        )
        return [TrackedRfi(str(r["message_id"]), r["direction"], r["counterpart"], r["asked_at"], r["deadline"],
                           RfiStatus(r["status"]), r["reminded_at"] is not None, r["overdue_notified_at"] is not None)
                for r in rows]

    async def notify(self, kind: str, rfi: TrackedRfi, text: str) -> None:
        await self._connection.execute(
            "INSERT INTO notifications (kind, message_id, counterpart, text) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING", kind, UUID(rfi.message_id), rfi.counterpart, text,
        )
        column = "reminded_at" if kind == "rfi_reminder" else "overdue_notified_at"
        await self._connection.execute(
            f"UPDATE rfis SET {column} = now() WHERE message_id = $1 AND direction = $2 AND counterpart = $3",
            UUID(rfi.message_id), rfi.direction, rfi.counterpart,
        )

    async def supersede_alert(self, original: UUID, *, by: UUID, cancelled: bool) -> None:
        await self._connection.execute(
            "UPDATE inbox_items SET alert_state = $3, superseded_by = $2 WHERE message_id = $1 AND kind = 'alert'",
            original, by, "cancelled" if cancelled else "updated",
        )

    async def inbox_message(self, message_id: UUID) -> Message | None:
        payload = await self._connection.fetchval("SELECT payload FROM inbox_items WHERE message_id = $1", message_id)
        return MESSAGE_ADAPTER.validate_json(payload) if payload is not None else None

    async def queue_receipts(self, received: list[Received], *, lane: str) -> None:
        if not received:
            return
        rows = [(r.message_id, lane, r.origin, r.correlation_id, r.priority.value, r.handling_code.value, r.handling_note,
                 r.language.value) for r in received]
        await self._connection.execute(_QUEUE_RECEIPTS, *columns(rows))

    async def take_queued_receipts(self, lane: str, *, limit: int) -> list[Received]:
        rows = await self._connection.fetch(_TAKE_QUEUED_RECEIPTS, lane, limit)
        return [Received(row["message_id"], row["origin"], row["correlation_id"], Priority(row["priority"]),
                         HandlingCode(row["handling_code"]), row["handling_note"], Language(row["language"]))
                for row in sorted(rows, key=lambda row: (row["queued_at"], row["message_id"]))]


class AsyncpgIntakeQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def inbox(self, *, kind: str | None, limit: int, before: str | None) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT message_id, kind, origin, rule, payload, hits, received_at, alert_state, superseded_by, valid_until "
            "FROM inbox_items WHERE ($1::text IS NULL OR kind = $1) AND ($2::timestamptz IS NULL OR received_at < $2) "
            "ORDER BY received_at DESC, message_id LIMIT $3",
            kind, datetime.fromisoformat(before) if before else None, limit,
        )
        now = datetime.now(UTC)
        return [
            {"message_id": str(r["message_id"]), "kind": r["kind"], "origin": r["origin"], "rule": r["rule"],
             "received_at": r["received_at"].isoformat(), "message": orjson.loads(r["payload"]),
             "hits": orjson.loads(r["hits"]),
             **({"alert_state": alert_state(r["alert_state"], r["valid_until"], now),
                 "superseded_by": str(r["superseded_by"]) if r["superseded_by"] else None} if r["kind"] == "alert" else {})}
            for r in rows
        ]

    async def rfis(self, *, status: str | None, direction: str | None, now: datetime) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT message_id, direction, counterpart, asked_at, deadline, status, closed_by, closed_at FROM rfis "
            "WHERE ($1::text IS NULL OR direction = $1) ORDER BY deadline LIMIT 1000", direction,
        )
        shown = []
        for r in rows:
            tracked = TrackedRfi(str(r["message_id"]), r["direction"], r["counterpart"], r["asked_at"], r["deadline"],
                                 RfiStatus(r["status"]), False, False)
            state = shown_status(tracked, now)
            if status is None or state == status:
                shown.append({"message_id": str(r["message_id"]), "direction": r["direction"],
                              "counterpart": r["counterpart"], "asked_at": r["asked_at"].isoformat(),
                              "deadline": r["deadline"].isoformat(), "status": state,
                              "closed_by": str(r["closed_by"]) if r["closed_by"] else None})
        return shown

    async def notifications(self, *, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT id, kind, message_id, counterpart, text, created_at FROM notifications ORDER BY id DESC LIMIT $1", limit
        )
        return [{"id": r["id"], "kind": r["kind"], "message_id": str(r["message_id"]), "counterpart": r["counterpart"],
                 "text": r["text"], "created_at": r["created_at"].isoformat()} for r in rows]

    async def matches(self, *, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT notification_id, message_id, origin, kind, handling_code, references_only, hits, received_at "
            "FROM match_notifications ORDER BY received_at DESC LIMIT $1", limit,
        )
        return [{**{k: str(v) if isinstance(v, UUID) else v for k, v in dict(r).items() if k not in ("hits", "received_at")},
                 "hits": orjson.loads(r["hits"]), "received_at": r["received_at"].isoformat()} for r in rows]

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
