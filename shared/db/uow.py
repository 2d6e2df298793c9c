"""The PostgreSQL unit of work: effect, outbox rows and processed-message claim in one transaction."""

from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

import asyncpg
import orjson

from shared.messaging.outgoing import OutgoingMessage, with_default_priority

StoreT = TypeVar("StoreT")


_INSERT_OUTBOX = """
INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, priority, headers, body)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
"""


class SharedTransaction:
    """One transaction for the units of work of a batch's items (shared/messaging/runtime.py): while it is open
    in a task, a unit of work on the same pool joins it as a savepoint, so an item the handler refuses rolls back
    alone, and the effects, outbox rows and claims of all the others commit together, once. The connection is
    taken when the first unit of work begins; the relay is woken after the commit, not before."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._connection: asyncpg.Connection | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._after_commit: dict[Callable[[], None], None] = {}
        self._token: Token[SharedTransaction | None] | None = None

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
        try:
            if exc_type is None:
                await self._transaction.commit()
            else:
                await self._transaction.rollback()
        finally:
            await self.pool.release(self._connection)
            self._connection = None
        if exc_type is None:
            for wake in self._after_commit:
                wake()

    async def connection(self) -> asyncpg.Connection:
        if self._connection is None:
            self._connection = await self.pool.acquire()
            self._transaction = self._connection.transaction()
            await self._transaction.start()
        return self._connection

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit[callback] = None


_OPEN: ContextVar[SharedTransaction | None] = ContextVar("pcms_shared_transaction", default=None)


class BufferedOutbox:
    def __init__(self) -> None:
        self.pending: list[OutgoingMessage] = []

    def add(self, message: OutgoingMessage) -> None:
        self.pending.append(message)


class AsyncpgUnitOfWork(Generic[StoreT]):
    def __init__(
        self,
        pool: asyncpg.Pool,
        store_factory: Callable[[asyncpg.Connection], StoreT],
        *,
        after_commit: Callable[[], None] = lambda: None,
        priority: int = 0,
    ) -> None:
        """after_commit runs when a commit added outbox rows: it wakes the relay of this process. `priority` is
        given to the outbox rows that name none: the lane of the message being handled (names.LANE_PRIORITY)."""
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
        if shared is not None and shared.pool is self._pool:
            self._shared = shared
            self._connection = await shared.connection()
        else:
            self._connection = await self._pool.acquire()
        self._transaction = self._connection.transaction()  # a savepoint inside a shared transaction
        await self._transaction.start()
        self.store = self._store_factory(self._connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None and self._transaction is not None
        added = bool(self.outbox.pending)
        try:
            if exc_type is None:
                await self._flush_outbox()
                await self._transaction.commit()
            else:
                await self._transaction.rollback()
        finally:
            if self._shared is None:
                await self._pool.release(self._connection)
            self._connection = None
            self.outbox = BufferedOutbox()
        if exc_type is None and added:
            if self._shared is not None:
                self._shared.after_commit(self._after_commit)
            else:
                self._after_commit()
        self._shared = None

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
