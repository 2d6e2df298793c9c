from uuid import UUID

from shared.contracts.messages import Message
from services.routing.domain.decisions import Original, RoutingDecision


class InMemoryRoutingStore:
    def __init__(self) -> None:
        self.decisions: dict[UUID, tuple[Message, RoutingDecision]] = {}

    async def original(self, message_id: UUID) -> Original | None:
        entry = self.decisions.get(message_id)
        return Original.of(*entry) if entry is not None else None

    async def record(self, decisions: list[tuple[Message, RoutingDecision]]) -> None:
        for message, decision in decisions:
            self.decisions.setdefault(message.message_id, (message, decision))
