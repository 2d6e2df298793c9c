from datetime import datetime
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

    def _dicts(self) -> list[dict[str, Any]]:
        return [e.model_dump() | {"seq": i, "hop": e.hop.value} for i, e in enumerate(self.entries)]

    async def trail(self, message_id: UUID, *, include_reads: bool = False) -> list[dict[str, Any]]:
        return [e for e in self._dicts() if e["message_id"] == message_id and (include_reads or e["hop"] != "read")]

    async def platform_activity(
        self, platform: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        return [e for e in self._dicts() if e["platform"] == platform and e["hop"] != "read"
                and (since is None or e["at"] >= since) and (until is None or e["at"] < until)][:limit]

    async def reads(self, message_id: UUID) -> list[dict[str, Any]]:
        return [e for e in self._dicts() if e["message_id"] == message_id and e["hop"] == "read"]

    async def log_state(self) -> dict[str, Any]:
        return {"size": len(self.entries), "checkpoints": 0, "latest_checkpoint": None}
