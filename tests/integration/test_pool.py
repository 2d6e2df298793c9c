"""The pool skips asyncpg's full session reset on release: what a released connection must still not carry over."""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from shared.db.connect import database_dsn
from shared.db.uow import AsyncpgUnitOfWork, SharedTransaction

pytestmark = pytest.mark.integration


async def test_a_connection_released_inside_a_transaction_comes_back_without_it(pool: asyncpg.Pool):
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("CREATE TEMP TABLE left_open (id int)")
        backend = await connection.fetchval("SELECT pg_backend_pid()")
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT pg_backend_pid()") == backend
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


async def test_a_role_set_for_one_transaction_does_not_outlive_it(pool: asyncpg.Pool):
    async with pool.acquire() as connection:
        login = await connection.fetchval("SELECT current_user")
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE pcms_audit_writer")
            assert await connection.fetchval("SELECT current_user") == "pcms_audit_writer"
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT current_user") == login


async def test_a_statement_first_run_on_an_empty_table_uses_the_index_once_the_table_has_grown(pool: asyncpg.Pool):
    """PostgreSQL's generic plan, kept after five runs, would scan the whole table for every call from then on."""
    lookup = "SELECT event_id FROM audit_log WHERE event_id = ANY($1::uuid[])"
    async with pool.acquire() as connection:
        await connection.execute("ANALYZE audit_log")
        for _ in range(10):
            await connection.fetch(lookup, [uuid4()])
        await connection.execute(
            "INSERT INTO audit_log (seq, event_id, message_id, hop, platform, service, at, detail, content_sha256, leaf_hash)"
            " SELECT g, gen_random_uuid(), gen_random_uuid(), 'accepted', 'NE', 'intake', now(), '{}', repeat('0', 64),"
            " decode(repeat('00', 32), 'hex') FROM generate_series(1, 20000) g")
        before = await scans_reported(connection, pool)
        await connection.fetch(lookup, [uuid4() for _ in range(100)])
        after = await scans_reported(connection, pool, changed_from=before)
    assert after["seq_scan"] == before["seq_scan"] and after["idx_scan"] > before["idx_scan"]


async def scans_reported(connection: asyncpg.Connection, pool: asyncpg.Pool, *,
                         changed_from: asyncpg.Record | None = None) -> asyncpg.Record:
    """The audit log's scan counters once `connection` has reported what it did (it does so when idle)."""
    await connection.execute("SELECT pg_stat_force_next_flush()")
    query = "SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relname = 'audit_log'"
    row = await pool.fetchrow(query)
    for _ in range(50):
        await asyncio.sleep(0.1)
        latest = await pool.fetchrow(query)
        if latest == row and latest != changed_from:
            return latest
        row = latest
    return row


@pytest.fixture
async def one_connection(pool: asyncpg.Pool, postgres_url: str, database_prefix: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of one connection to the migrated database: one connection lost is the whole pool (terminated at the
    end, so a lost one cannot hang the test's teardown)."""
    small = await asyncpg.create_pool(database_dsn(postgres_url, f"{database_prefix}hub"), min_size=1, max_size=1)
    yield small
    small.terminate()


class CountingPool:
    """A pool, counting what is taken and given back; `manual_begin` hands out connections already inside a
    transaction begun by hand, on which asyncpg refuses to start one."""

    def __init__(self, pool: asyncpg.Pool, *, manual_begin: bool = False) -> None:
        self.pool, self.manual_begin = pool, manual_begin
        self.taken = self.given_back = 0

    async def acquire(self) -> asyncpg.Connection:
        connection = await self.pool.acquire()
        self.taken += 1
        if self.manual_begin:
            await connection.execute("BEGIN")
        return connection

    async def release(self, connection: asyncpg.Connection) -> None:
        self.given_back += 1
        await self.pool.release(connection)


async def test_a_unit_of_work_whose_transaction_fails_to_start_gives_its_connection_back(one_connection):
    counting = CountingPool(one_connection, manual_begin=True)
    with pytest.raises(asyncpg.InterfaceError):
        async with AsyncpgUnitOfWork(counting, lambda connection: connection):
            pass
    assert (counting.taken, counting.given_back) == (1, 1)


async def test_a_batch_transaction_that_fails_to_start_gives_its_connection_back(one_connection):
    counting = CountingPool(one_connection, manual_begin=True)
    with pytest.raises(asyncpg.InterfaceError):
        async with SharedTransaction(counting), AsyncpgUnitOfWork(counting, lambda connection: connection):
            pass
    assert (counting.taken, counting.given_back) == (1, 1)


async def test_a_handler_cancelled_while_its_transaction_starts_leaves_the_pool_whole(one_connection):
    """A broker connection that drops cancels the handlers in flight, at any point of their unit of work's start."""
    counting = CountingPool(one_connection)
    for _ in range(40):
        for delay in (0, 0.0002, 0.0005, 0.001, 0.002):
            task = asyncio.ensure_future(_a_unit_of_work(counting))
            await asyncio.sleep(delay)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert counting.taken == counting.given_back
    async with asyncio.timeout(5), one_connection.acquire() as connection:
        assert await connection.fetchval("SELECT 1") == 1


async def _a_unit_of_work(pool: CountingPool) -> None:
    async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
        await uow.store.fetchval("SELECT 1")
