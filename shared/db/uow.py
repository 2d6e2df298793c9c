"""The PostgreSQL unit of work: effect, outbox rows and processed-message claim in one transaction."""

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

import asyncpg
import orjson

from shared.db.columns import columns
from shared.db.lanes import ConnectionPool, underlying
from shared.messaging.errors import BatchContended
from shared.messaging.outgoing import OutgoingMessage, with_default_priority
from shared.messaging.relay import kinds_of, lingers

StoreT = TypeVar("StoreT")


_INSERT_OUTBOX = """
INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, priority, headers, body, lingers)
SELECT message_id, exchange, routing_key, type, correlation_id, priority, headers::jsonb, body, lingers
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::text[], $8::bytea[],
            $9::boolean[]) WITH ORDINALITY
     AS row(message_id, exchange, routing_key, type, correlation_id, priority, headers, body, lingers, position)
ORDER BY position
"""
_INSERT_CLAIM = (
    "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true"
)
_CLAIMED_BEFORE = "SELECT message_id FROM processed_messages WHERE consumer = $1 AND message_id = ANY($2::uuid[])"
_INSERT_CLAIMS = """
WITH written AS (
    INSERT INTO processed_messages (consumer, message_id) SELECT $1, id FROM unnest($2::uuid[]) AS id
    ON CONFLICT DO NOTHING RETURNING 1
)
SELECT count(*) FROM written
"""
_CONTENDED = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


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
    outbox rows of all of them go in with one insert just before the commit, and the relay is woken after it.

    The items' claims (BatchClaims) are written at the commit. If a copy of one of them committed meanwhile, as a
    redelivery does after a broker restart, nothing commits and BatchContended tells the runtime to run the batch
    again at once: the next pass sees that item as processed."""

    def __init__(self, pool: ConnectionPool, *id_groups: Iterable[object]) -> None:
        """`pool` is the pool as the batch's lane sees it (shared/db/lanes.py); units of work of any lane on the
        same pool join the transaction. `id_groups` are the ids the batch's items travel under, then any other
        ids their handlers claim that are known before they run, one group for each consumer that claims them
        (routing in the enrichment claims each message's enriched form)."""
        self.pool = pool
        self._claims = BatchClaims(*id_groups)
        self._connection: asyncpg.Connection | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._wakes: dict[Callable[[set[tuple[int, str]]], None], set[tuple[int, str]]] = {}
        self._token: Token[SharedTransaction | None] | None = None
        self._abandoned = False
        self._outbox: list[OutgoingMessage] = []
        self._on_commit: list[Callable[[], object]] = []

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
                await self._commit(self._connection, self._transaction)
            else:
                await self._transaction.rollback()
        except _CONTENDED as error:
            raise _contended(error) from error
        finally:
            await self.pool.release(self._connection)
            self._connection = None
        if isinstance(exc, _CONTENDED):
            raise _contended(exc) from exc
        if exc_type is None and not committing:
            raise AbandonedUnit("a unit of work failed inside the batch's transaction: nothing of the batch committed")
        if committing:
            for wake, committed in self._wakes.items():
                wake(committed)
            for action in self._on_commit:
                action()

    async def _commit(self, connection: asyncpg.Connection, transaction: asyncpg.transaction.Transaction) -> None:
        try:
            await self._claims.write(connection)
            if self._outbox:
                await insert_outbox_rows(connection, self._outbox)
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        return await self._claims.claim(await self.connection(), consumer, message_id)

    async def connection(self) -> asyncpg.Connection:
        if self._connection is None:
            self._connection, self._transaction = await begin(self.pool)
        return self._connection

    def abandon(self) -> None:
        self._abandoned = True

    def after_commit(self, action: Callable[[], object]) -> None:
        self._on_commit.append(action)

    def add_outbox_rows(
        self, messages: list[OutgoingMessage], wake_relay: Callable[[set[tuple[int, str]]], None]
    ) -> None:
        """The outbox rows of every unit of work go in with one insert, just before the commit."""
        self._outbox.extend(messages)
        self._wakes.setdefault(wake_relay, set()).update(kinds_of(messages))


class BatchClaims:
    """The processed-message claims of a batch's items: read once per consumer and group of ids, written at the
    commit with one insert in id order (so two batches sharing items never deadlock on them), instead of one insert
    per item. A consumer's first claim in a group reads that group only, so a consumer that claims the derived ids
    does not look up the items' own ids too. An id in no group is claimed at once, as outside a batch."""

    def __init__(self, *id_groups: Iterable[object]) -> None:
        self._groups: list[list[UUID]] = []
        self._group_of: dict[UUID, int] = {}
        for ids in id_groups:
            group = [i for i in dict.fromkeys(_uuids(ids)) if i not in self._group_of]
            self._group_of.update(dict.fromkeys(group, len(self._groups)))
            self._groups.append(group)
        self._before: dict[tuple[str, int], set[UUID]] = {}
        self._taken: dict[str, set[UUID]] = {}

    async def claim(self, connection: asyncpg.Connection, consumer: str, message_id: UUID) -> bool:
        group = self._group_of.get(message_id)
        if group is None:
            return bool(await connection.fetchval(_INSERT_CLAIM, consumer, message_id))
        before = self._before.get((consumer, group))
        if before is None:
            rows = await connection.fetch(_CLAIMED_BEFORE, consumer, self._groups[group])
            before = self._before[consumer, group] = {row[0] for row in rows}
        taken = self._taken.setdefault(consumer, set())
        if message_id in before or message_id in taken:
            return False
        taken.add(message_id)
        return True

    async def write(self, connection: asyncpg.Connection) -> None:
        for consumer, taken in self._taken.items():
            written = await connection.fetchval(_INSERT_CLAIMS, consumer, sorted(taken))
            if written != len(taken):
                raise BatchContended(f"{len(taken) - written} of the batch's items committed meanwhile ({consumer})")


def _contended(error: BaseException) -> BatchContended:
    """What a write of the batch met when a copy of an item was committing too: the batch runs again at once."""
    return BatchContended(f"a copy of an item was committing meanwhile: {type(error).__name__}: {error}")


def _uuids(values: Iterable[object]) -> Iterable[UUID]:
    for value in values:
        try:
            yield value if isinstance(value, UUID) else UUID(str(value))
        except ValueError:
            continue


_OPEN: ContextVar[SharedTransaction | None] = ContextVar("pcms_shared_transaction", default=None)


def one_transaction(pool: ConnectionPool) -> AbstractAsyncContextManager[object]:
    """The units of work entered inside it on `pool` commit together: in the transaction of the batch being
    handled, if one is open on the same pool, else in a new one. Their claims are written at once, as a unit of
    work alone writes them."""
    shared = _OPEN.get()
    if shared is not None and underlying(shared.pool) is underlying(pool):
        return nullcontext(shared)
    return SharedTransaction(pool)


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
        wake_relay: Callable[[set[tuple[int, str]]], None] = lambda _: None,
        priority: int = 0,
    ) -> None:
        """wake_relay runs with the rows' (priority, type) when a commit added outbox rows: it wakes the relay
        of this process. `priority` is given to the outbox rows that name none: the lane of the message being handled
        (names.LANE_PRIORITY)."""
        self._priority = priority
        self._pool = pool
        self._store_factory = store_factory
        self._wake_relay = wake_relay
        self._connection: asyncpg.Connection | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._shared: SharedTransaction | None = None
        self._on_commit: list[Callable[[], object]] = []
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
        pending = with_default_priority(self.outbox.pending, self._priority)
        actions, self._on_commit = self._on_commit, []
        if self._shared is not None:
            self._leave_shared(exc_type is None, pending, actions)
            return
        assert self._transaction is not None
        try:
            if exc_type is None:
                await insert_outbox_rows(self._connection, pending)
                await self._transaction.commit()
            else:
                await self._transaction.rollback()
        finally:
            await self._pool.release(self._connection)
            self._connection = None
            self._transaction = None
            self.outbox = BufferedOutbox()
        if exc_type is None and pending:
            self._wake_relay(kinds_of(pending))
        if exc_type is None:
            for action in actions:
                action()

    def _leave_shared(self, succeeded: bool, pending: list[OutgoingMessage], actions: list[Callable[[], object]]) -> None:
        """The shared transaction commits (or not) for everyone; this unit of work only hands its rows and its
        after-commit actions over."""
        shared, self._shared = self._shared, None
        assert shared is not None
        if not succeeded:
            shared.abandon()
        else:
            if pending:
                shared.add_outbox_rows(pending, self._wake_relay)
            for action in actions:
                shared.after_commit(action)
        self._connection = None
        self.outbox = BufferedOutbox()

    def after_commit(self, action: Callable[[], object]) -> None:
        self._on_commit.append(action)

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        assert self._connection is not None
        if self._shared is not None:
            return await self._shared.claim(consumer, message_id)
        return bool(await self._connection.fetchval(_INSERT_CLAIM, consumer, message_id))


async def insert_outbox_rows(connection: asyncpg.Connection, messages: list[OutgoingMessage]) -> None:
    """One statement for all the rows, ids in their order (the relay keeps it): executed once a row, the hub's
    inserts were its most frequent statement, 40,000 in a 20-second run at the maximum load."""
    if not messages:
        return
    await connection.execute(_INSERT_OUTBOX, *columns(
        (m.message_id, m.exchange, m.routing_key, m.type, m.correlation_id, m.priority,
         orjson.dumps(m.headers).decode(), m.body, lingers(m.type)) for m in messages))
