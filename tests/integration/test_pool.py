"""The pool skips asyncpg's full session reset on release: what a released connection must still not carry over."""

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
