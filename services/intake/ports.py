from typing import Any, Protocol
from uuid import UUID

from shared.contracts.events import MessageDispatched, RoutingDecided
from shared.contracts.messages import Message
from services.intake.domain.delivery import DeliveryState


class IntakeStore(Protocol):
    async def record_sent(self, message: Message, *, idempotency_key: str | None = None) -> bool:
        """False when the message id or the idempotency key is already taken."""
        ...

    async def sent_with_key(self, idempotency_key: str) -> Message | None: ...

    async def record_routing(self, notice: RoutingDecided) -> None: ...

    async def advance_delivery(
        self, message_id: UUID, recipient: str, state: DeliveryState, reason: str | None = None
    ) -> None: ...

    async def save_inbox_item(self, dispatched: MessageDispatched) -> None: ...

    async def inbox_message(self, message_id: UUID) -> Message | None: ...


class IntakeQueries(Protocol):
    async def inbox(self, *, kind: str | None, limit: int, before: str | None) -> list[dict[str, Any]]: ...

    async def sent_message(self, message_id: UUID) -> dict[str, Any] | None: ...
