from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.contracts.events import MatchFound, MessageDispatched
from shared.contracts.messages import Message
from services.intake.domain.acknowledgements import Received
from services.intake.domain.delivery import DeliveryState, advances
from services.intake.domain.rfis import RfiStatus, TrackedRfi


class InMemoryIntakeStore:
    def __init__(self) -> None:
        self.sent: dict[UUID, Message] = {}
        self.deliveries: dict[tuple[UUID, str], tuple[DeliveryState, str | None]] = {}
        self.inbox: dict[UUID, MessageDispatched] = {}
        self.routing_rules: dict[UUID, str] = {}
        self.keys: dict[str, UUID] = {}
        self.matches: dict[UUID, MatchFound] = {}
        self.rfis: dict[tuple[str, str, str], TrackedRfi] = {}
        self.notifications: dict[tuple[str, str, str], str] = {}
        self.alert_states: dict[UUID, tuple[str, UUID]] = {}
        self.queued_receipts: dict[UUID, tuple[str, Received]] = {}

    async def record_sent(self, message: Message, *, idempotency_key: str | None = None) -> bool:
        if message.message_id in self.sent or (idempotency_key and idempotency_key in self.keys):
            return False
        self.sent[message.message_id] = message
        if idempotency_key:
            self.keys[idempotency_key] = message.message_id
        return True

    async def sent_with_keys(self, idempotency_keys: list[str]) -> dict[str, Message]:
        return {key: self.sent[self.keys[key]] for key in idempotency_keys if key in self.keys}

    async def sent_ids_with_keys(self, idempotency_keys: list[str]) -> dict[str, UUID]:
        return {key: self.keys[key] for key in idempotency_keys if key in self.keys}

    async def record_sent_many(self, messages: list[tuple[Message, str | None]]) -> set[UUID]:
        return {message.message_id for message, key in messages if await self.record_sent(message, idempotency_key=key)}

    async def record_routing_rules(self, rules: list[tuple[UUID, str]]) -> list[Message]:
        requests = {}
        for message_id, rule in rules:
            if message_id in self.sent:
                self.routing_rules[message_id] = rule
                if self.sent[message_id].kind == "rfi":
                    requests[message_id] = self.sent[message_id]
        return list(requests.values())

    async def save_matches(self, notifications: list[MatchFound]) -> None:
        for notification in notifications:
            self.matches.setdefault(notification.notification_id, notification)

    async def advance_delivery(self, message_id: UUID, recipient: str, state: DeliveryState, reason: str | None = None) -> None:
        if message_id not in self.sent:
            return
        current = self.deliveries.get((message_id, recipient))
        if advances(current[0] if current else None, state):
            self.deliveries[(message_id, recipient)] = (state, reason)

    async def save_inbox_items(self, dispatched: list[MessageDispatched]) -> None:
        for each in dispatched:
            self.inbox.setdefault(each.message.message_id, each)

    async def advance_deliveries(self, changes: list[tuple[UUID, str, DeliveryState, str | None]]) -> None:
        for message_id, recipient, state, reason in changes:
            await self.advance_delivery(message_id, recipient, state, reason)

    async def track_rfi(self, message_id: UUID, direction: str, counterpart: str, asked_at: datetime,
                        deadline: datetime) -> None:
        key = (str(message_id), direction, counterpart)
        self.rfis.setdefault(key, TrackedRfi(str(message_id), direction, counterpart, asked_at, deadline,
                                             RfiStatus.OPEN, False, False))

    async def close_rfi(self, message_id: UUID, direction: str, counterpart: str | None, status: RfiStatus,
                        closed_by: UUID) -> None:
        for key, rfi in self.rfis.items():
            if key[:2] == (str(message_id), direction) and counterpart in (None, key[2]) and rfi.status is RfiStatus.OPEN:
                self.rfis[key] = replace(rfi, status=status)

    async def open_rfis(self) -> list[TrackedRfi]:
        return [rfi for rfi in self.rfis.values() if rfi.status is RfiStatus.OPEN]

    async def notify(self, kind: str, rfi: TrackedRfi, text: str) -> None:
        self.notifications.setdefault((kind, rfi.message_id, rfi.counterpart), text)
        key = (rfi.message_id, rfi.direction, rfi.counterpart)
        self.rfis[key] = replace(self.rfis[key], **({"reminded": True} if kind == "rfi_reminder"
                                                    else {"overdue_notified": True}))

    async def supersede_alert(self, original: UUID, *, by: UUID, cancelled: bool) -> None:
        if original in self.inbox:
            self.alert_states[original] = ("cancelled" if cancelled else "updated", by)

    async def inbox_message(self, message_id: UUID) -> Message | None:
        item = self.inbox.get(message_id)
        return item.message if item else None

    async def queue_receipts(self, received: list[Received], *, lane: str) -> None:
        for each in received:
            self.queued_receipts.setdefault(each.message_id, (lane, each))

    async def take_queued_receipts(self, lane: str, *, limit: int) -> list[Received]:
        taken = [received for queued_lane, received in self.queued_receipts.values() if queued_lane == lane][:limit]
        for received in taken:
            del self.queued_receipts[received.message_id]
        return taken

    async def inbox_items(self, *, kind: str | None, limit: int, before: str | None) -> list[dict[str, Any]]:
        items = [d for d in self.inbox.values() if kind is None or d.message.kind == kind]
        return [{"message_id": str(d.message.message_id), "kind": d.message.kind,
                 "received_at": datetime.now(UTC).isoformat()} for d in reversed(items)][:limit]
