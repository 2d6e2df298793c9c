"""The PostgreSQL unit of work: effect, outbox rows and processed-message claim in one transaction."""

from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

import asyncpg
import orjson

from shared.db.lanes import ConnectionPool, underlying
from shared.messaging.outgoing import OutgoingMessage, with_default_priority

StoreT = TypeVar("StoreT")


_INSERT_OUTBOX = """
INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, priority, headers, body)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
"""


_CLAIM = (
    "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true"
)
# Sorted, so that two batches claiming some of the same ids take their locks in the same order.
_CLAIM_ITEMS = """
INSERT INTO processed_messages (consumer, message_id)
SELECT $1, message_id FROM unnest($2::uuid[]) AS item(message_id) ORDER BY message_id
ON CONFLICT DO NOTHING RETURNING message_id
"""
_RELEASE = "DELETE FROM processed_messages WHERE consumer = $1 AND message_id = ANY($2::uuid[])"


async def claim_now(connection: asyncpg.Connection, consumer: str, message_id: UUID) -> bool:
    return bool(await connection.fetchval(_CLAIM, consumer, message_id))


class AbandonedUnit(RuntimeError):
    """A unit of work failed inside a shared transaction and its caller carried on: nothing may commit."""


class SharedTransaction:
    """One transaction for the units of work of a batch's items (shared/messaging/runtime.py): while it is open
    in a task, a unit of work on the same pool joins it, so the effects, outbox rows and claims of every item
    commit together, once. A unit of work that fails inside it leaves its writes half done, so the whole
    transaction is then rolled back: the runtime runs the batch again without an item its handler refused, and
    retries it whole after any other failure. The connection is taken when the first unit of work begins; the
    outbox rows of all of them go in with one insert just before the commit, and the relay is woken after it.

    `items` are the ids the batch's items travel under. A consumer's first claim of one of them claims them all
    with one statement, as each item's own claim would have: an id another transaction holds is waited for, and
    is the other's once it commits. Each item's claim then answers from what that statement won; the ids of items
    no handler claimed (refused before their handler) are released before the commit. An id that is not an
    item's is claimed at once, alone."""

    def __init__(self, pool: ConnectionPool, items: Iterable[UUID] = ()) -> None:
        """`pool` is the pool as the batch's lane sees it (shared/db/lanes.py); units of work of any lane on the
        same pool join the transaction."""
        self.pool = pool
        self._items = set(items)
        self._unclaimed: dict[str, set[UUID]] = {}
        self._connection: asyncpg.Connection | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._after_commit: dict[Callable[[set[int]], None], set[int]] = {}
        self._token: Token[SharedTransaction | None] | None = None
        self._abandoned = False
        self._outbox: list[OutgoingMessage] = []

    async def __aenter__(self) -> Self:
        self._token = _OPEN.set(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._token is not None
        _OPEN.reset(self._token)
        if self._connection is None or self._transaction is None:
            return
        committing = exc_type is None and not self._abandoned
        try:
            if committing:
                for consumer, unclaimed in self._unclaimed.items():
                    if unclaimed:
                        await self._connection.execute(_RELEASE, consumer, list(unclaimed))
                if self._outbox:
                    await insert_outbox_rows(self._connection, self._outbox)
                await self._transaction.commit()
            else:
                await self._transaction.rollback()
        finally:
            await self.pool.release(self._connection)
            self._connection = None
        if exc_type is None and not committing:
            raise AbandonedUnit("a unit of work failed inside the batch's transaction: nothing of the batch committed")
        if committing:
            for wake, priorities in self._after_commit.items():
                wake(priorities)

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        connection = await self.connection()
        if message_id not in self._items:
            return await claim_now(connection, consumer, message_id)
        if consumer not in self._unclaimed:
            rows = await connection.fetch(_CLAIM_ITEMS, consumer, list(self._items))
            self._unclaimed[consumer] = {row["message_id"] for row in rows}
        unclaimed = self._unclaimed[consumer]
        if message_id not in unclaimed:
            return False  # processed before, by another transaction, or already by an earlier item of this batch
        unclaimed.remove(message_id)
        return True

    async def connection(self) -> asyncpg.Connection:
        if self._connection is None:
            self._connection = await self.pool.acquire()
            self._transaction = self._connection.transaction()
            await self._transaction.start()
        return self._connection

    def abandon(self) -> None:
        self._abandoned = True

    def add_outbox_rows(self, messages: list[OutgoingMessage], after_commit: Callable[[set[int]], None]) -> None:
        """The outbox rows of every unit of work go in with one insert, just before the commit."""
        self._outbox.extend(messages)
        self._after_commit.setdefault(after_commit, set()).update(message.priority for message in messages)


_OPEN: ContextVar[SharedTransaction | None] = ContextVar("pcms_shared_transaction", default=None)


class BufferedOutbox:
    def __init__(self) -> None:
        self.pending: list[OutgoingMessage] = []

    def add(self, message: OutgoingMessage) -> None:
        self.pending.append(message)


class AsyncpgUnitOfWork(Generic[StoreT]):
    def __init__(
        self,
        pool: ConnectionPool,
        store_factory: Callable[[asyncpg.Connection], StoreT],
        *,
        after_commit: Callable[[set[int]], None] = lambda _: None,
        priority: int = 0,
    ) -> None:
        """after_commit runs with the rows' priorities when a commit added outbox rows: it wakes the relay of
        this process. `priority` is given to the outbox rows that name none: the lane of the message being handled
        (names.LANE_PRIORITY)."""
        self._priority = priority
        self._pool = pool
        self._store_factory = store_factory
        self._after_commit = after_commit
        self._connection: asyncpg.Connection | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._shared: SharedTransaction | None = None
        self.outbox = BufferedOutbox()

    async def __aenter__(self) -> Self:
        shared = _OPEN.get()
        if shared is not None and underlying(shared.pool) is underlying(self._pool):
            self._shared = shared
            self._connection = await shared.connection()
        else:
            self._connection = await self._pool.acquire()
            self._transaction = self._connection.transaction()
            await self._transaction.start()
        self.store = self._store_factory(self._connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None
        added = {message.priority or self._priority for message in self.outbox.pending}
        if self._shared is not None:
            self._leave_shared(exc_type is None)
            return
        assert self._transaction is not None
        try:
            if exc_type is None:
                await self._flush_outbox()
                await self._transaction.commit()
            else:
                await self._transaction.rollback()
        finally:
            await self._pool.release(self._connection)
            self._connection = None
            self._transaction = None
            self.outbox = BufferedOutbox()
        if exc_type is None and added:
            self._after_commit(added)

    def _leave_shared(self, succeeded: bool) -> None:
        """The shared transaction commits (or not) for everyone; this unit of work only hands its rows over."""
        shared, self._shared = self._shared, None
        assert shared is not None
        if not succeeded:
            shared.abandon()
        elif self.outbox.pending:
            shared.add_outbox_rows(with_default_priority(self.outbox.pending, self._priority), self._after_commit)
        self._connection = None
        self.outbox = BufferedOutbox()

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        assert self._connection is not None
        if self._shared is not None:
            return await self._shared.claim(consumer, message_id)
        return await claim_now(self._connection, consumer, message_id)

    async def _flush_outbox(self) -> None:
        if self.outbox.pending:
            assert self._connection is not None
            await insert_outbox_rows(self._connection, with_default_priority(self.outbox.pending, self._priority))


async def insert_outbox_rows(connection: asyncpg.Connection, messages: list[OutgoingMessage]) -> None:
    await connection.executemany(
        _INSERT_OUTBOX,
        [
            (m.message_id, m.exchange, m.routing_key, m.type, m.correlation_id, m.priority,
             orjson.dumps(m.headers).decode(), m.body)
            for m in messages
        ],
    )
