import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.infra import free_api_ports
from shared.cli.run import AUDIT_PORT_OFFSET, ServiceProcess, plan, start, stop, wait_healthy
from shared.db.connect import database_dsn, ensure_database
from shared.federation import Federation, load_federation
from shared.security.keys import ensure_signing_keys
from tests.broker_users import provision_test_users, remove_test_users
from tests.api_users import issue_test_tokens, token_key
from tests.federations import MEMBERS, write_federation
from tests.infra import Broker

pytestmark = pytest.mark.e2e


@dataclass
class RunningFederation:
    federation: Federation
    processes: list[ServiceProcess]
    amqp_url: str
    log_dir: Path
    federation_file: Path
    postgres_url: str
    database_prefix: str
    tokens: dict[str, str] = field(default_factory=dict)  # "CODE/role" -> API token (tests/api_users.py)

    def token(self, code: str, role: str) -> str:
        return self.tokens[token_key(code, role)]

    def pcms(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
        """The operators' command line, against this federation, as the hub's operator unless a token is given."""
        env = {**os.environ, "PCMS_FEDERATION_FILE": str(self.federation_file),
               "PCMS_TOKEN": token or self.token(self.federation.hub.code, "operator")}
        return subprocess.run([sys.executable, "-m", "shared.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    def database(self, code: str) -> str:
        return database_dsn(self.postgres_url, f"{self.database_prefix}{code.lower()}")

    def process(self, service: str, platform: str) -> ServiceProcess:
        return next(p for p in self.processes if (p.service, p.platform) == (service, platform))

    def restart(self, service: str, platform: str) -> None:
        start([self.process(service, platform)], self.federation_file, self.log_dir)

    def api(self, code: str, role: str = "officer") -> httpx.Client:
        """The platform's intake API, with the token of its officer (or another role's)."""
        return httpx.Client(base_url=f"http://127.0.0.1:{self.federation.get(code).api_port}", timeout=10,
                            headers={"Authorization": f"Bearer {self.token(code, role)}"})

    def audit_api(self, code: str) -> httpx.Client:
        """The platform's audit API, with the token of its auditor."""
        return httpx.Client(base_url=f"http://127.0.0.1:{self.federation.get(code).api_port + AUDIT_PORT_OFFSET}",
                            timeout=10, headers={"Authorization": f"Bearer {self.token(code, 'auditor')}"})


@pytest.fixture
def running_federation(tmp_path: Path, amqp_url: str, postgres_url: str, database_prefix: str, broker: Broker,
                       unique: str) -> Iterator[RunningFederation]:
    """HUB, MR, ML, NE active; BF withdrawn; TD suspended: every service as its own process, as its own broker user."""
    ports = free_api_ports(["HUB", *MEMBERS])
    federation_file = write_federation(tmp_path / "federation.yaml", ports, broker_user_prefix=f"t{unique}-",
                                       BF="withdrawn", TD="suspended")
    federation = load_federation(federation_file)
    secrets_dir = tmp_path / "secrets"
    env = {"AMQP_URL": amqp_url, "DATABASE_URL": postgres_url, "PCMS_DATABASE_PREFIX": database_prefix,
           "PCMS_SECRETS_DIR": str(secrets_dir), "PCMS_CATCH_UP_SECONDS": "1"}
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
        provision_test_users(broker, amqp_url, federation, secrets_dir)
        ensure_signing_keys(federation_file, secrets_dir)  # every service signs and verifies
        start(processes, federation_file, log_dir)
        problems = wait_healthy(processes, timeout=90)
        if problems:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(log_dir.glob("*.log")))
            pytest.fail(f"federation did not start: {problems}\n{logs}")
        tokens = issue_test_tokens(postgres_url, database_prefix, federation)
        yield RunningFederation(federation, processes, amqp_url, log_dir, federation_file, postgres_url, database_prefix,
                                tokens=tokens)
    finally:
        stop(processes)
        remove_test_users(broker, federation)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
