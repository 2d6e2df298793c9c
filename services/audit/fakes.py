from typing import Any
from uuid import UUID

from shared.contracts.events import HopRecorded


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.entries: list[HopRecorded] = []

    async def append(self, event: HopRecorded) -> bool:
        if any(entry.event_id == event.event_id for entry in self.entries):
            return False
        self.entries.append(event)
        return True

    async def trail(self, message_id: UUID) -> list[dict[str, Any]]:
        return [e.model_dump() | {"seq": i} for i, e in enumerate(self.entries) if e.message_id == message_id]
