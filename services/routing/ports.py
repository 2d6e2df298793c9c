from typing import Protocol
from uuid import UUID

from shared.contracts.messages import Message
from services.routing.domain.decisions import Original, RoutingDecision


class RoutingStore(Protocol):
    async def original(self, message_id: UUID) -> Original | None: ...

    async def record(self, decisions: list[tuple[Message, RoutingDecision]]) -> None:
        """Each message's decision, once whatever the number of calls, in one statement."""
        ...
