"""deploy/rabbitmq/definitions.json: what docker compose loads at boot, generated from the federation."""

import json
from pathlib import Path
from urllib.parse import quote

import aio_pika
import httpx
import pytest

from shared.cli.broker import render
from shared.federation import Federation, load_federation
from shared.messaging import names
from shared.security.broker_credentials import read_password, vhost_of, with_credentials
from shared.security.provisioning import definitions
from tests.broker_users import remove_test_users
from tests.federations import federation_dict
from tests.infra import Broker

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "rabbitmq" / "definitions.json"
DEVELOPMENT_SECRETS = ROOT / "deploy" / "development-secrets"


@pytest.mark.contract
@pytest.mark.security
def test_the_committed_definitions_are_what_the_generator_makes_from_the_federation_and_have_no_guest() -> None:
    federation = load_federation(ROOT / "deploy" / "federation.yaml")
    expected = render(definitions(federation, DEVELOPMENT_SECRETS, create_passwords=False))
    assert COMMITTED.read_text(encoding="utf-8") == expected, (
        "deploy/rabbitmq/definitions.json is stale: run "
        "`pcms broker definitions --out deploy/rabbitmq/definitions.json --secrets-dir deploy/development-secrets`")
    document = json.loads(expected)
    assert "guest" not in {u["name"] for u in document["users"]}
    assert not [p for p in document["permissions"] if p["user"] == "guest"]
    conf = (ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf


@pytest.mark.integration
@pytest.mark.security
async def test_generated_definitions_load_into_the_broker_and_their_users_log_in_with_restricted_rights(
        broker: Broker, amqp_url: str, unique: str, tmp_path: Path) -> None:
    federation = Federation.model_validate(federation_dict(broker_user_prefix=f"d{unique}-"))
    vhost = vhost_of(amqp_url)
    document = definitions(federation, tmp_path, vhost=vhost)
    try:
        with httpx.Client(base_url=broker.management_url, auth=(broker.user, broker.password), timeout=60) as api:
            api.post("/api/definitions", json=document).raise_for_status()
            queues = {q["name"] for q in api.get(f"/api/queues/{quote(vhost, safe='')}").json()}
        assert names.inbox_queue("MR", names.URGENT) in queues
        user = federation.broker_user("MR")
        connection = await aio_pika.connect(
            with_credentials(amqp_url, user, read_password(tmp_path, user)).get_secret_value())
        async with connection:
            channel = await connection.channel()
            inbox = await channel.get_queue(names.inbox_queue("MR", names.URGENT), ensure=False)
            await inbox.consume(ignore)  # its own inbox: allowed, so the hash and permissions loaded
    finally:
        remove_test_users(broker, federation)


@pytest.mark.integration
@pytest.mark.security
def test_pcms_broker_provision_creates_the_users_and_the_topology_idempotently(
        broker: Broker, amqp_url: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from shared.cli.main import app
    from tests.federations import write_federation

    federation_file = write_federation(tmp_path / "federation.yaml", {}, broker_user_prefix=f"c{unique}-", BF="withdrawn")
    federation = load_federation(federation_file)
    monkeypatch.setenv("AMQP_URL", amqp_url)
    monkeypatch.delenv("PCMS_AMQP_URL", raising=False)
    args = ["broker", "provision", "--federation-file", str(federation_file), "--secrets-dir", str(tmp_path / "s"),
            "--management-url", broker.management_url, "--admin-user", broker.user, "--admin-password", broker.password]
    try:
        first = CliRunner().invoke(app, args)
        second = CliRunner().invoke(app, args)
        assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
        assert "8 broker users provisioned" in second.output
        with httpx.Client(base_url=broker.management_url, auth=(broker.user, broker.password), timeout=30) as api:
            users = {u["name"] for u in api.get("/api/users").json()}
            queues = {q["name"] for q in api.get(f"/api/queues/{quote(vhost_of(amqp_url), safe='')}").json()}
        assert {federation.broker_user("MR"), federation.operator_broker_user} <= users
        assert federation.broker_user("BF") not in users
        assert names.inbox_queue("MR", names.URGENT) in queues and names.inbox_queue("BF", names.URGENT) not in queues
    finally:
        remove_test_users(broker, federation)


async def ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    pass
