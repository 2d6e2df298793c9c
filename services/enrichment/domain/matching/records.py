"""References to stored records and the candidates a query returns."""

from dataclasses import dataclass, field
from typing import NamedTuple


class RecordRef(NamedTuple):
    platform: str
    message_id: str
    position: int


@dataclass(frozen=True, slots=True)
class Candidate:
    ref: RecordRef
    entity_type: str
    score: float
    outcome: str
    explanation: list[str] = field(default_factory=list)
