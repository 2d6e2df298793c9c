from collections.abc import AsyncIterator, Sequence
from uuid import UUID

from services.enrichment.ports import MOST_FOUND, IndexedKey, MessageToIndex, StoredEntity, StoredSince


class InMemoryRegionalIndex:
    def __init__(self) -> None:
        self.rows: list[IndexedKey] = []
        self.entities: list[StoredEntity] = []

    async def index_many(self, messages: Sequence[MessageToIndex]) -> list[list[IndexedKey]]:
        return [self._index(message) for message in messages]

    def _index(self, message: MessageToIndex) -> list[IndexedKey]:
        wanted, message_id, platform = set(message.matching), message.message_id, message.platform
        found = [row for row in reversed(self.rows) if row.key in wanted and row.message_id != message_id][:MOST_FOUND]
        held = {(row.key, row.message_id, row.entity_type, row.position) for row in self.rows}
        stored = {(e.message_id, e.entity_type, e.position) for e in self.entities}
        for entity in message.entities:
            for key in dict.fromkeys(entity.keys):
                if (key, message_id, entity.entity_type, entity.position) not in held:
                    self.rows.append(IndexedKey(key, entity.entity_type, entity.position, platform, message_id))
            if (message_id, entity.entity_type, entity.position) not in stored:
                self.entities.append(StoredEntity(message_id, platform, str(entity.entity_type), entity.position,
                                                  dict(entity.canonical), message.handling_code,
                                                  seq=len(self.entities) + 1))
        return found

    async def stream(
        self, *, batch_size: int = 2_000, entity_types: Sequence[str] | None = None
    ) -> AsyncIterator[list[StoredEntity]]:
        selected = self._of_types(entity_types)
        for start in range(0, len(selected), batch_size):
            yield selected[start : start + batch_size]

    async def stored_since(self, seq: int, *, entity_types: Sequence[str] | None = None) -> StoredSince:
        after = [e for e in self._of_types(entity_types) if e.seq > seq]
        return StoredSince(max((e.seq for e in after), default=seq), list(dict.fromkeys(e.message_id for e in after)))

    async def entities_of(self, message_ids: Sequence[UUID], *, entity_types: Sequence[str] | None = None
                          ) -> list[StoredEntity]:
        wanted = set(message_ids)
        return [e for e in self._of_types(entity_types) if e.message_id in wanted]

    def _of_types(self, entity_types: Sequence[str] | None) -> list[StoredEntity]:
        wanted = {str(t) for t in entity_types} if entity_types is not None else None
        return [e for e in self.entities if wanted is None or e.entity_type in wanted]
