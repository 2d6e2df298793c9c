from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.events import NormalisedEntity
from services.enrichment.domain.matching import Candidate


MOST_FOUND = 200  # rows of other messages a message is answered with, newest first


@dataclass(frozen=True)
class IndexedKey:
    key: str
    entity_type: str
    position: int
    platform: str
    message_id: UUID


@dataclass(frozen=True)
class MessageToIndex:
    """A message's entities as the regional index takes them, and the identifier keys it asks about."""

    message_id: UUID
    platform: str
    handling_code: str
    entities: list[NormalisedEntity]
    matching: Sequence[str] = ()


@dataclass(frozen=True)
class StoredEntity:
    """One row of the store of record: an entity of a message the hub has seen, in canonical form."""

    message_id: UUID
    platform: str
    entity_type: str
    position: int
    canonical: dict[str, Any]
    handling_code: str
    seq: int = 0  # its place in the store's insertion order


@dataclass(frozen=True)
class StoredSince:
    """What the store took in after a place in its insertion order."""

    newest: int  # the highest place read, or the one asked about when nothing came after it
    message_ids: list[UUID]


class RegionalIndex(Protocol):
    """The regional index in the store of record (PostgreSQL): exact keys and canonical entities."""

    async def index_many(self, messages: Sequence[MessageToIndex]) -> list[list[IndexedKey]]:
        """Adds each message's entities (once, whatever the number of calls) and returns, for each in turn, what
        other messages indexed before it under any of its `matching` keys, earlier messages of the same call
        included, newest first (at most MOST_FOUND): in one round trip, whatever the number of messages."""
        ...

    def stream(
        self, *, batch_size: int, entity_types: Sequence[str] | None = None
    ) -> AsyncIterator[list[StoredEntity]]:
        """Every stored entity (of these types), in insertion order, a batch at a time."""
        ...

    async def stored_since(self, seq: int, *, entity_types: Sequence[str] | None = None) -> StoredSince:
        """The messages with entities (of these types) stored after place `seq`, each once."""
        ...

    async def entities_of(self, message_ids: Sequence[UUID], *, entity_types: Sequence[str] | None = None
                          ) -> list[StoredEntity]:
        """The stored entities (of these types) of these messages, in insertion order."""
        ...


class Matcher(Protocol):
    """The in-memory candidate index the handler and the query API read; fed after each commit."""

    def candidates(
        self, entity_type: str, canonical: dict[str, Any], *, limit: int, excluding: str | None = None
    ) -> list[Candidate]: ...

    def add_message(
        self, message_id: UUID | str, platform: str, entities: Iterable[tuple[str, int, dict[str, Any]]]
    ) -> bool:
        """Adds a committed message's entities once; False (and nothing added) for a message already held."""
        ...
