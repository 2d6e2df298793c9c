"""The PostgreSQL unit of work: effect, outbox rows and processed-message claim in one transaction."""

from collections.abc import Callable
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


async def begin(pool: ConnectionPool) -> tuple[asyncpg.Connection, asyncpg.transaction.Transaction]:
    """A connection and its started transaction. If the start fails, or the task is cancelled meanwhile (as a
    handler is when its broker connection drops), the connection goes back to the pool at once: no exit of a unit of
    work would ever release it, and each one lost this way shrinks the process's pool of five for good."""
    connection = await pool.acquire()
    try:
        transaction = connection.transaction()
        await transaction.start()
    except BaseException:
        await pool.release(connection)
        raise
    return connection, transaction


class AbandonedUnit(RuntimeError):
    """A unit of work failed inside a shared transaction and its caller carried on: nothing may commit."""


class SharedTransaction:
    """One transaction for the units of work of a batch's items (shared/messaging/runtime.py): while it is open
    in a task, a unit of work on the same pool joins it, so the effects, outbox rows and claims of every item
    commit together, once. A unit of work that fails inside it leaves its writes half done, so the whole
    transaction is then rolled back: the runtime runs the batch again without an item its handler refused, and
    retries it whole after any other failure. The connection is taken when the first unit of work begins; the
    outbox rows of all of them go in with one insert just before the commit, and the relay is woken after it."""

    def __init__(self, pool: ConnectionPool) -> None:
        """`pool` is the pool as the batch's lane sees it (shared/db/lanes.py); units of work of any lane on the
        same pool join the transaction."""
        self.pool = pool
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

    async def connection(self) -> asyncpg.Connection:
        if self._connection is None:
            self._connection, self._transaction = await begin(self.pool)
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
            self._connection, self._transaction = await begin(self._pool)
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
        inserted = await self._connection.fetchval(
            "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            message_id,
        )
        return bool(inserted)

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
