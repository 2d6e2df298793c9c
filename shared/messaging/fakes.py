"""In-memory fakes of the messaging ports, for unit tests of handlers."""

from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

from shared.messaging.outgoing import OutgoingMessage, with_default_priority

StoreT = TypeVar("StoreT")


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[OutgoingMessage] = []
        self.fail_next: Exception | None = None

    async def publish(self, message: OutgoingMessage) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.published.append(message)


class FakeOutbox:
    def __init__(self) -> None:
        self.pending: list[OutgoingMessage] = []
        self.committed: list[OutgoingMessage] = []

    def add(self, message: OutgoingMessage) -> None:
        self.pending.append(message)


class FakeUnitOfWork(Generic[StoreT]):
    """Commits outbox rows and claims only when the block succeeds, like the real one."""

    def __init__(self, store: StoreT, *, priority: int = 0) -> None:
        self._priority = priority
        self.store = store
        self.outbox = FakeOutbox()
        self.claims: set[tuple[str, UUID]] = set()
        self._pending_claims: set[tuple[str, UUID]] = set()
        self.commits = 0

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        key = (consumer, message_id)
        if key in self.claims or key in self._pending_claims:
            return False
        self._pending_claims.add(key)
        return True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.claims |= self._pending_claims
            self.outbox.committed += with_default_priority(self.outbox.pending, self._priority)
            self.commits += 1
        self._pending_claims.clear()
        self.outbox.pending.clear()

    @property
    def published(self) -> list[OutgoingMessage]:
        return self.outbox.committed
