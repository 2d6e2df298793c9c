from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from shared.contracts.events import NormalisedEntity


@dataclass(frozen=True)
class IndexedKey:
    key: str
    entity_type: str
    position: int
    platform: str
    message_id: UUID


class RegionalIndex(Protocol):
    async def lookup(self, keys: list[str], *, excluding: UUID) -> list[IndexedKey]: ...

    async def add(
        self, entities: list[NormalisedEntity], *, platform: str, message_id: UUID, handling_code: str
    ) -> None: ...
