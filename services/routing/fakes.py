from uuid import UUID

from shared.contracts.messages import Message
from services.routing.domain.decisions import RoutingDecision


class InMemoryRoutingStore:
    def __init__(self) -> None:
        self.decisions: dict[UUID, tuple[Message, RoutingDecision]] = {}

    async def origin_of(self, message_id: UUID) -> str | None:
        entry = self.decisions.get(message_id)
        return entry[0].origin if entry else None

    async def record(self, message: Message, decision: RoutingDecision) -> None:
        self.decisions.setdefault(message.message_id, (message, decision))
