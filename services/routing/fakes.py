from uuid import UUID

from shared.contracts.messages import Message
from services.routing.domain.decisions import Original, RoutingDecision


class InMemoryRoutingStore:
    def __init__(self) -> None:
        self.decisions: dict[UUID, tuple[Message, RoutingDecision]] = {}

    async def original(self, message_id: UUID) -> Original | None:
        entry = self.decisions.get(message_id)
        if entry is None:
            return None
        message, decision = entry
        return Original(message_id, message.origin, (*decision.recipients, *decision.held))

    async def record(self, message: Message, decision: RoutingDecision) -> None:
        self.decisions.setdefault(message.message_id, (message, decision))
