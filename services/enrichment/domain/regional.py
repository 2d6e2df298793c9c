"""The hub's in-memory view of the regional index: a CandidateIndex fed once per message.

PostgreSQL is the store of record. This view is rebuilt from it at start (`load`) and then kept
current with each message after its transaction commits (`add_message`). It remembers which
messages it holds, so a message is never added twice: a redelivery, or a message already loaded
by the rebuild, adds nothing.
"""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from shared.contracts.events import EntityType
from services.enrichment.domain.matching import Candidate, CandidateIndex, RecordRef
from services.enrichment.domain.message_ids import MessageIds

MATCHABLE_TYPES = frozenset({EntityType.PERSON, EntityType.VEHICLE, EntityType.DOCUMENT, EntityType.PHONE,
                             EntityType.FIREARM})
EXCLUSION_MARGIN = 5


class RegionalMatcher:
    def __init__(self) -> None:
        self._index = CandidateIndex()
        self._messages = MessageIds()
        self._loading = MessageIds()
        self.ready = False

    def __len__(self) -> int:
        """Number of records (entities) held."""
        return len(self._index)

    @property
    def index(self) -> CandidateIndex:
        return self._index

    @property
    def messages(self) -> int:
        return len(self._messages)

    def holds(self, message_id: UUID | str) -> bool:
        return message_id in self._messages

    # ---- feeding ------------------------------------------------------------------------------

    def add_message(
        self, message_id: UUID | str, platform: str, entities: Iterable[tuple[str, int, dict[str, Any]]]
    ) -> bool:
        if not self._messages.add(message_id):
            return False
        for entity_type, position, canonical in entities:
            self._add(message_id, platform, entity_type, position, canonical)
        return True

    def load(self, rows: Iterable[Any]) -> int:
        """Adds stored rows (message_id, platform, entity_type, position, canonical attributes) from a rebuild.

        Rows of one message may arrive in several batches; rows of a message already added live are skipped.
        """
        loaded = 0
        live, loading = self._messages, self._loading
        taking = None  # the message of the row before, the common case: a message's rows are stored together
        for row in rows:
            message_id = row.message_id
            if message_id != taking:
                if live.add(message_id):
                    loading.add(message_id)
                elif message_id not in loading:  # added live, or by an earlier load
                    continue
            taking = message_id
            self._add(message_id, row.platform, row.entity_type, row.position, row.canonical)
            loaded += 1
        return loaded

    def finish_loading(self) -> None:
        self._loading = MessageIds()
        self.ready = True

    def _add(self, message_id: UUID | str, platform: str, entity_type: str, position: int,
             canonical: dict[str, Any]) -> None:
        if entity_type in MATCHABLE_TYPES:
            self._index.add_canonical(RecordRef(platform, str(message_id), position), entity_type, canonical)

    # ---- reading ------------------------------------------------------------------------------

    def candidates(
        self, entity_type: str, canonical: dict[str, Any], *, limit: int, excluding: str | None = None
    ) -> list[Candidate]:
        """Ranked candidates with outcome hit or review (never no_hit), best first."""
        if entity_type not in MATCHABLE_TYPES:
            return []
        wanted = limit + EXCLUSION_MARGIN if excluding else limit
        found = self._index.query_canonical(entity_type, canonical, limit=wanted)
        if excluding:
            found = [c for c in found if c.ref.message_id != str(excluding)]
        return found[:limit]
