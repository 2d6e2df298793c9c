from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from shared.db.connect import create_pool, ensure_database
from shared.db.migrate import migrate
from shared.messaging.amqp import apply_topology, connect
from shared.messaging.topology import federation_topology
from tests.federations import federation_with

pytestmark = pytest.mark.integration


@asynccontextmanager
async def migrated_pool(postgres_url: str, name: str) -> AsyncIterator[asyncpg.Pool]:
    """A platform database of the test's own, created and migrated."""
    await ensure_database(postgres_url, name)
    pool = await create_pool(postgres_url, name)
    async with pool.acquire() as connection:
        await migrate(connection)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def pool(postgres_url: str, database_prefix: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(postgres_url, f"{database_prefix}hub") as hub_pool:
        yield hub_pool


@pytest.fixture
def federation():
    return federation_with(BF="withdrawn", TD="suspended")


@pytest.fixture
async def broker_connection(amqp_url: str, federation):
    connection = await connect(amqp_url, name="tests")
    await apply_topology(connection, federation_topology(federation))
    yield connection
    await connection.close()
