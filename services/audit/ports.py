from typing import Any, Protocol
from uuid import UUID

from shared.contracts.events import HopRecorded


class AuditLog(Protocol):
    async def append(self, event: HopRecorded) -> bool:
        """False when the event was already recorded."""
        ...


class AuditQueries(Protocol):
    async def trail(self, message_id: UUID) -> list[dict[str, Any]]: ...
