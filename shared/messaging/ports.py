"""The small interfaces handlers and the runtime depend on. Fakes live in shared/messaging/fakes.py."""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar
from uuid import UUID

from shared.messaging.outgoing import OutgoingMessage

StoreT = TypeVar("StoreT", covariant=True)


class Outcome(StrEnum):
    """What a handler may return; None means the message was processed."""

    DUPLICATE = "duplicate"


DUPLICATE = Outcome.DUPLICATE


class Publisher(Protocol):
    async def publish(self, message: OutgoingMessage) -> None: ...


class Outbox(Protocol):
    """Messages to publish once the unit of work commits."""

    def add(self, message: OutgoingMessage) -> None: ...


class UnitOfWork(Protocol, Generic[StoreT]):
    """One transaction: the effect, the outbox rows and the processed-message claim commit together."""

    store: StoreT
    outbox: Outbox

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        """True the first time this consumer sees this id; False for a repeat."""
        ...

    def after_commit(self, action: Callable[[], object]) -> None:
        """Runs `action` once the transaction this unit of work belongs to has committed; never if it rolls back.
        Inside a transaction shared by several units of work (a batch's, shared/db/uow.py) that is the shared
        commit, not this unit's exit."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@dataclass
class OutboxBatch:
    """Rows taken by the relay; it fills `sent` and `failed` before the batch is closed."""

    rows: list[tuple[int, OutgoingMessage]]
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    follow_ups: list[OutgoingMessage] = field(default_factory=list)
