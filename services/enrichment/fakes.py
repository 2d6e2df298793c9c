from uuid import UUID

from shared.contracts.events import NormalisedEntity
from services.enrichment.ports import IndexedKey


class InMemoryRegionalIndex:
    def __init__(self) -> None:
        self.rows: list[IndexedKey] = []

    async def lookup(self, keys: list[str], *, excluding: UUID) -> list[IndexedKey]:
        wanted = set(keys)
        return [row for row in self.rows if row.key in wanted and row.message_id != excluding]

    async def add(self, entities: list[NormalisedEntity], *, platform: str, message_id: UUID, handling_code: str) -> None:
        for entity in entities:
            for key in entity.keys:
                self.rows.append(IndexedKey(key, entity.entity_type, entity.position, platform, message_id))
