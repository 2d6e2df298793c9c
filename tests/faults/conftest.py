import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from bench.infra import free_api_ports
from shared.cli.run import AUDIT_PORT_OFFSET, plan
from shared.db.connect import ensure_database
from shared.federation import load_federation
from tests.faults.harness import Federated, Process, environment
from tests.faults.proxy import TcpProxy
from tests.faults.scenarios import FIGURES
from shared.security.keys import ensure_signing_keys
from tests.broker_users import provision_test_users, remove_test_users
from tests.api_users import issue_test_tokens, token_key
from tests.federations import MEMBERS, write_federation
from tests.infra import Broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if FIGURES:
        terminalreporter.section("fault-injection figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def through(proxy: TcpProxy, amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{credentials}127.0.0.1:{proxy.port}", parts.path, parts.query, ""))


@pytest.fixture
def link() -> Iterator[TcpProxy]:
    """The link between Niger's platform and the broker."""
    proxy = TcpProxy("127.0.0.1", 5672).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fed(tmp_path: Path, amqp_url: str, postgres_url: str, database_prefix: str, link: TcpProxy, broker: Broker,
        unique: str) -> Iterator[Federated]:
    """HUB, NE and ML active, the others withdrawn; NE reaches the broker through a proxy that tests can cut."""
    parts = urlsplit(amqp_url)
    link.target_host, link.target_port = parts.hostname or "127.0.0.1", parts.port or 5672
    ports = free_api_ports(["HUB", *MEMBERS])
    statuses = {code: "withdrawn" for code in MEMBERS if code not in ("NE", "ML")}
    federation_file = write_federation(tmp_path / "federation.yaml", ports, broker_user_prefix=f"t{unique}-", **statuses)
    federation = load_federation(federation_file)
    secrets_dir = tmp_path / "secrets"
    env = environment(amqp_url, postgres_url, database_prefix, federation_file, secrets_dir)
    ne_env = {**env, "AMQP_URL": through(link, amqp_url)}
    log_dir = tmp_path / "logs"
    log_dir.mkdir()

    async def prepare() -> None:
        for platform in federation.active_platforms:
            await ensure_database(postgres_url, f"{database_prefix}{platform.code.lower()}")

    asyncio.run(prepare())
    provision_test_users(broker, amqp_url, federation, secrets_dir)
    ensure_signing_keys(federation_file, secrets_dir)  # every service signs and verifies
    processes = {
        f"{p.service}@{p.platform}": Process(p.service, p.platform, ne_env if p.platform == "NE" else env,
                                             log_dir / f"{p.service}-{p.platform}.log")
        for p in plan(federation)
    }
    for process in processes.values():
        process.start()
    try:
        wait_healthy(federation, log_dir)
        tokens = issue_test_tokens(postgres_url, database_prefix, federation)
        yield Federated(federation, processes, postgres_url, database_prefix, log_dir, token=tokens[token_key("NE", "officer")])
    finally:
        for process in processes.values():
            process.stop()
        remove_test_users(broker, federation)


def wait_healthy(federation, log_dir: Path, timeout: float = 90) -> None:
    ports = [p.api_port + offset for p in federation.active_platforms for offset in (0, AUDIT_PORT_OFFSET)]
    deadline = time.monotonic() + timeout
    while ports and time.monotonic() < deadline:
        for port in list(ports):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    ports.remove(port)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if ports:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(log_dir.glob("*.log")))
        pytest.fail(f"not healthy: ports {ports}\n{logs}")
