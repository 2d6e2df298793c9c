import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.cli.run import AUDIT_PORT_OFFSET, ServiceProcess, plan, start, stop, wait_healthy
from shared.db.connect import database_dsn, ensure_database
from shared.federation import Federation, load_federation
from tests.federations import MEMBERS, write_federation

pytestmark = pytest.mark.e2e


def free_port_pair() -> int:
    """A port p with p and p + the audit offset both free."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + AUDIT_PORT_OFFSET < 65535:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + AUDIT_PORT_OFFSET))
                return port
            except OSError:
                continue


@dataclass
class RunningFederation:
    federation: Federation
    processes: list[ServiceProcess]
    amqp_url: str
    log_dir: Path
    federation_file: Path
    postgres_url: str
    database_prefix: str

    def pcms(self, *args: str) -> subprocess.CompletedProcess:
        """The operators' command line, against this federation."""
        env = {**os.environ, "PCMS_FEDERATION_FILE": str(self.federation_file)}
        return subprocess.run([sys.executable, "-m", "shared.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    def database(self, code: str) -> str:
        return database_dsn(self.postgres_url, f"{self.database_prefix}{code.lower()}")

    def process(self, service: str, platform: str) -> ServiceProcess:
        return next(p for p in self.processes if (p.service, p.platform) == (service, platform))

    def restart(self, service: str, platform: str) -> None:
        start([self.process(service, platform)], self.federation_file, self.log_dir)

    def api(self, code: str) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.federation.get(code).api_port}", timeout=10)

    def audit_api(self, code: str) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.federation.get(code).api_port + AUDIT_PORT_OFFSET}",
                            timeout=10)


@pytest.fixture
def running_federation(tmp_path: Path, amqp_url: str, postgres_url: str, database_prefix: str) -> Iterator[RunningFederation]:
    """HUB, MR, ML, NE active; BF withdrawn; TD suspended: every service as its own process."""
    ports = {code: free_port_pair() for code in ["HUB", *MEMBERS]}
    federation_file = write_federation(tmp_path / "federation.yaml", ports, BF="withdrawn", TD="suspended")
    federation = load_federation(federation_file)
    env = {"AMQP_URL": amqp_url, "DATABASE_URL": postgres_url, "PCMS_DATABASE_PREFIX": database_prefix}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    processes = plan(federation)
    log_dir = tmp_path / "logs"
    try:
        import asyncio

        async def prepare() -> None:  # databases exist before several processes race to migrate them
            for platform in federation.active_platforms:
                await ensure_database(postgres_url, f"{database_prefix}{platform.code.lower()}")

        asyncio.run(prepare())
        start(processes, federation_file, log_dir)
        problems = wait_healthy(processes, timeout=90)
        if problems:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(log_dir.glob("*.log")))
            pytest.fail(f"federation did not start: {problems}\n{logs}")
        yield RunningFederation(federation, processes, amqp_url, log_dir, federation_file, postgres_url, database_prefix)
    finally:
        stop(processes)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
