import io
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import structlog

from shared.logging import configure_logging
from tests.infra import Broker, find_broker, find_postgres


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    found, container = find_broker()
    yield found
    if container is not None:
        container.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url, container = find_postgres()
    yield url
    if container is not None:
        container.stop()  # type: ignore[attr-defined]


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def amqp_url(broker: Broker, unique: str) -> Iterator[str]:
    """A vhost of the test's own, removed afterwards."""
    vhost = f"test-{unique}"
    auth = (broker.user, broker.password)
    with httpx.Client(base_url=broker.management_url, auth=auth, timeout=30) as api:
        api.put(f"/api/vhosts/{vhost}").raise_for_status()
        api.put(f"/api/permissions/{vhost}/{broker.user}",
                json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        yield broker.vhost_url(vhost)
        api.delete(f"/api/vhosts/{vhost}")


@pytest.fixture
async def database_prefix(postgres_url: str, unique: str) -> AsyncIterator[str]:
    """Databases named with the test's own prefix, dropped afterwards."""
    prefix = f"t{unique}_"
    yield prefix
    connection = await asyncpg.connect(postgres_url)
    try:
        names = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%")
        for row in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
def captured_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The services' logging configuration (JSON, intake at MR), writing to a buffer; reset afterwards."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(service="intake", platform="MR", fmt="json")
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []
    structlog.contextvars.clear_contextvars()
