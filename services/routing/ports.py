from typing import Protocol
from uuid import UUID

from shared.contracts.messages import Message
from services.routing.domain.decisions import Original, RoutingDecision


class RoutingStore(Protocol):
    async def original(self, message_id: UUID) -> Original | None: ...

    async def record(self, message: Message, decision: RoutingDecision) -> None: ...
