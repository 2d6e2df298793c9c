from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.events import MatchFound, MessageDispatched
from shared.contracts.messages import Message
from services.intake.domain.acknowledgements import Received
from services.intake.domain.delivery import DeliveryState
from services.intake.domain.rfis import RfiStatus, TrackedRfi


class IntakeStore(Protocol):
    async def record_sent(self, message: Message, *, idempotency_key: str | None = None) -> bool:
        """False when the message id or the idempotency key is already taken."""
        ...

    async def sent_with_keys(self, idempotency_keys: list[str]) -> dict[str, Message]:
        """The messages already accepted under any of these keys, by key."""
        ...

    async def sent_ids_with_keys(self, idempotency_keys: list[str]) -> dict[str, UUID]:
        """The ids of the messages already accepted under any of these keys."""
        ...

    async def record_sent_many(self, messages: list[tuple[Message, str | None]]) -> set[UUID]:
        """Records each (message, idempotency key) whose id and key are free, in one statement; returns their ids."""
        ...

    async def record_routing_rules(self, rules: list[tuple[UUID, str]]) -> list[Message]:
        """Records the rule (message id, rule) the hub routed each message sent from here by, in one statement;
        returns those that are requests for information (their answerers are then tracked). A message not sent from
        here is skipped."""
        ...

    async def advance_delivery(
        self, message_id: UUID, recipient: str, state: DeliveryState, reason: str | None = None
    ) -> None: ...

    async def advance_deliveries(self, changes: list[tuple[UUID, str, DeliveryState, str | None]]) -> None:
        """advance_delivery for each (message id, recipient, state, reason), in one statement."""
        ...

    async def save_inbox_items(self, dispatched: list[MessageDispatched]) -> None:
        """Each message into the inbox once, whatever the number of calls."""
        ...

    async def inbox_message(self, message_id: UUID) -> Message | None: ...

    async def queue_receipts(self, received: list[Received], *, lane: str) -> None:
        """Each receipt is sent by a later round (take_queued_receipts); queued once, whatever the number of calls."""
        ...

    async def take_queued_receipts(self, lane: str, *, limit: int) -> list[Received]:
        """Removes and returns up to `limit` receipts of `lane`, longest queued first; none that another transaction
        is taking."""
        ...

    async def save_matches(self, notifications: list[MatchFound]) -> None:
        """Keeps each notification once, whatever the number of calls."""
        ...

    async def track_rfi(self, message_id: UUID, direction: str, counterpart: str, asked_at: datetime,
                        deadline: datetime) -> None: ...

    async def close_rfi(self, message_id: UUID, direction: str, counterpart: str | None, status: RfiStatus,
                        closed_by: UUID) -> None:
        """Closes the open request; counterpart None closes it whoever it is with."""
        ...

    async def open_rfis(self) -> list[TrackedRfi]: ...

    async def notify(self, kind: str, rfi: TrackedRfi, text: str) -> None:
        """Records the notice once and marks the request reminded or flagged overdue."""
        ...

    async def supersede_alert(self, original: UUID, *, by: UUID, cancelled: bool) -> None: ...


class IntakeQueries(Protocol):
    async def inbox(self, *, kind: str | None, limit: int, before: str | None) -> list[dict[str, Any]]: ...

    async def sent_message(self, message_id: UUID) -> dict[str, Any] | None: ...

    async def matches(self, *, limit: int) -> list[dict[str, Any]]: ...

    async def rfis(self, *, status: str | None, direction: str | None, now: datetime) -> list[dict[str, Any]]: ...

    async def notifications(self, *, limit: int) -> list[dict[str, Any]]: ...
