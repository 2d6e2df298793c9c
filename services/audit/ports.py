from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.events import CheckpointPublished, HopRecorded


class AuditLog(Protocol):
    async def append(self, event: HopRecorded) -> bool:
        """False when the event was already recorded."""
        ...


class AuditQueries(Protocol):
    async def trail(self, message_id: UUID, *, include_reads: bool = False) -> list[dict[str, Any]]: ...

    async def platform_activity(
        self, platform: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]: ...

    async def reads(self, message_id: UUID) -> list[dict[str, Any]]: ...

    async def log_state(self) -> dict[str, Any]: ...


class Witness(Protocol):
    async def observe(self, message: CheckpointPublished) -> Any: ...

    async def view(self) -> dict[str, Any]: ...
