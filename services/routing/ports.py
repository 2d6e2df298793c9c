from typing import Protocol
from uuid import UUID

from shared.contracts.messages import Message
from services.routing.domain.decisions import RoutingDecision


class RoutingStore(Protocol):
    async def origin_of(self, message_id: UUID) -> str | None: ...

    async def record(self, message: Message, decision: RoutingDecision) -> None: ...
