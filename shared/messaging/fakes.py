"""In-memory fakes of the messaging ports, for unit tests of handlers."""

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

from shared.messaging.outgoing import OutgoingMessage, with_default_priority
from shared.messaging.ports import OutboxBatch
from shared.messaging.relay import ALL_PRIORITIES, Rows

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
        self._on_commit: list[Callable[[], object]] = []
        self.commits = 0

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        key = (consumer, message_id)
        if key in self.claims or key in self._pending_claims:
            return False
        self._pending_claims.add(key)
        return True

    def after_commit(self, action: Callable[[], object]) -> None:
        self._on_commit.append(action)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.claims |= self._pending_claims
            self.outbox.committed += with_default_priority(self.outbox.pending, self._priority)
            self.commits += 1
        actions, self._on_commit = self._on_commit, []
        self._pending_claims.clear()
        self.outbox.pending.clear()
        if exc_type is None:
            for action in actions:
                action()

    @property
    def published(self) -> list[OutgoingMessage]:
        return self.outbox.committed


@dataclass
class FakeOutboxRow:
    message: OutgoingMessage
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None


class FakeOutboxStore:
    """The relay's outbox in memory, as AsyncpgOutboxStore keeps it: unsent rows taken highest priority first, then
    oldest; a failed row waits 2**attempts seconds (at most 60); a sent row leaves the outbox. Records the priorities
    and rows asked of every take."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.rows: dict[int, FakeOutboxRow] = {}
        self.takes: list[tuple[tuple[int, int], Rows]] = []
        self._clock = clock
        self._next_id = 1

    def add(self, *messages: OutgoingMessage) -> None:
        for message in messages:
            self.rows[self._next_id] = FakeOutboxRow(message)
            self._next_id += 1

    @asynccontextmanager
    async def take(
        self, limit: int, *, priorities: tuple[int, int] = ALL_PRIORITIES, rows: Rows = Rows.ALL
    ) -> AsyncIterator[OutboxBatch]:
        self.takes.append((priorities, rows))
        low, high, now = *priorities, self._clock()
        due = [(row_id, row.message) for row_id, row in self.rows.items()
               if row.next_attempt_at <= now and low <= row.message.priority <= high
               and rows.takes(row.message.type)]
        batch = OutboxBatch(sorted(due, key=lambda taken: (-taken[1].priority, taken[0]))[:limit])
        yield batch
        for row_id in batch.sent:
            del self.rows[row_id]
        self.add(*batch.follow_ups)
        for row_id, error in batch.failed.items():
            row = self.rows[row_id]
            row.next_attempt_at = self._clock() + min(2**row.attempts, 60)
            row.attempts += 1
            row.last_error = error[:2000]

    async def unsent_by_priority(self) -> dict[int, int]:
        return dict(Counter(row.message.priority for row in self.rows.values()))

    async def forget_sent(self) -> int:
        """No earlier release ever marked a row of this store sent."""
        return 0

    async def reclaim_sent(self) -> None:
        """Nothing to reclaim in memory: a sent row is gone at once."""
