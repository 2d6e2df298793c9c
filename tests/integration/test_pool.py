"""The pool skips asyncpg's full session reset on release: what a released connection must still not carry over."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

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
