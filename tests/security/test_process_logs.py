"""A real service process never writes a secret to its log: not its broker password, not the database
password in its URL, not its signing key, not the API tokens it is shown (valid or not)."""

import asyncio
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from shared.cli.run import AUDIT_PORT_OFFSET, ServiceProcess, start, stop, wait_healthy
from shared.cli.users import issue_token
from shared.db.connect import ensure_database
from shared.federation import load_federation
from shared.security.keys import ensure_signing_keys
from tests.broker_users import provision_test_users, remove_test_users
from tests.federations import MEMBERS, write_federation
from tests.infra import Broker

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(180)]


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + AUDIT_PORT_OFFSET < 65535:
            return port


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}:{parts.port or 5432}", parts.path, parts.query, ""))


def test_a_running_service_logs_no_password_token_or_key(
    tmp_path: Path, amqp_url: str, postgres_url: str, database_prefix: str, broker: Broker, unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ports = {code: _free_port() for code in ["HUB", *MEMBERS]}
    federation_file = write_federation(tmp_path / "federation.yaml", ports, broker_user_prefix=f"t{unique}-")
    federation = load_federation(federation_file)
    secrets_dir = tmp_path / "secrets"
    database_password = f"db-{secrets.token_hex(12)}"  # the test server trusts local connections: it is carried, unused
    monkeypatch.setenv("AMQP_URL", amqp_url)
    monkeypatch.setenv("DATABASE_URL", _with_password(postgres_url, database_password))
    monkeypatch.setenv("PCMS_DATABASE_PREFIX", database_prefix)
    monkeypatch.setenv("PCMS_SECRETS_DIR", str(secrets_dir))
    monkeypatch.setenv("PCMS_LOG_LEVEL", "DEBUG")
    intake = ServiceProcess("intake", "MR", ports["MR"])
    log_dir = tmp_path / "logs"
    try:
        asyncio.run(ensure_database(postgres_url, f"{database_prefix}mr"))
        provision_test_users(broker, amqp_url, federation, secrets_dir)
        ensure_signing_keys(federation_file, secrets_dir)
        token = asyncio.run(issue_token(postgres_url, f"{database_prefix}mr", platform="MR", name="officer.mr",
                                        role="officer", created_by="tests"))
        wrong_token = f"pcms_{secrets.token_urlsafe(24)}"
        start([intake], federation_file, log_dir)
        problems = wait_healthy([intake], timeout=90)
        assert not problems, f"{problems}\n{(log_dir / 'intake-MR.log').read_text()[-3000:]}"
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['MR']}", timeout=10) as api:
            assert api.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert api.get("/v1/inbox", headers={"Authorization": f"Bearer {wrong_token}"}).status_code == 401
            assert api.get("/v1/inbox", headers={"Authorization": f"Basic {wrong_token}"}).status_code == 401
            assert api.get("/v1/inbox", params={"token": wrong_token, "password": database_password}).status_code == 401
            api.post("/v1/messages", headers={"Authorization": f"Bearer {token}"},
                     json={"kind": "rfi", "submitted_by": "police", "body": {"question": database_password}})
        stop([intake])
        # again, with a broker that cannot be reached: connection errors, the libraries' own log records
        monkeypatch.setenv("AMQP_URL", f"amqp://guest:{database_password}@127.0.0.1:{_free_port()}/")
        start([intake], federation_file, log_dir)
        deadline = time.monotonic() + 30
        while "broker_connect_failed" not in (log_dir / "intake-MR.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        stop([intake])
        remove_test_users(broker, federation)
    log = (log_dir / "intake-MR.log").read_text(encoding="utf-8", errors="replace")
    assert "broker_identity" in log and "broker_connect_failed" in log, log[-3000:]  # it did log, and failed
    broker_passwords = [path.read_text().strip() for path in (secrets_dir / "broker").iterdir() if path.is_file()]
    signing_keys = [line for path in (secrets_dir / "signing").glob("*.pem")
                    for line in path.read_text().splitlines() if line and not line.startswith("-----")]
    secrets_shown = {"database password": database_password, "API token": token, "wrong token": wrong_token,
                     **{f"broker password {n}": p for n, p in enumerate(broker_passwords)},
                     **{f"signing key line {n}": k for n, k in enumerate(signing_keys)}}
    assert broker_passwords and signing_keys
    leaked = sorted(name for name, value in secrets_shown.items() if value in log)
    assert not leaked, f"{leaked} in the intake log:\n{log[-3000:]}"
