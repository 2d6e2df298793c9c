import re
import ssl
import stat
from functools import partial
from pathlib import Path

import aiormq
import pytest
from pydantic import SecretStr

from shared.federation import Federation
from shared.messaging import names
from shared.messaging.topology import federation_topology
from shared.security.broker_access import broker_users, holding_queue_owner, member_user, provisioner_user
from shared.security.broker_credentials import (
    declares_topology,
    ensure_password,
    read_password,
    redacted,
    service_amqp_url,
    vhost_of,
    with_tls,
)
from shared.security.provisioning import FakeBrokerAdmin, definitions, password_hash, provision_users
from shared.settings import ServiceSettings
from tests.federations import federation_with

pytestmark = pytest.mark.unit


def allows(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ: re:run, unanchored


def resources(federation: Federation) -> tuple[list[str], list[str]]:
    topology = federation_topology(federation)
    return [e.name for e in topology.exchanges], [q.name for q in topology.queues]


def users_by_name(federation: Federation) -> dict:
    return {u.name: u for u in broker_users(federation)}


def test_a_member_reads_only_its_own_queues_and_no_exchange_so_it_can_bind_nothing() -> None:
    federation = federation_with(BF="withdrawn", TD="suspended")
    exchanges, queues = resources(federation)
    mr = member_user(federation, "MR")
    readable = {q for q in queues if allows(mr.permission.read, q)}
    assert readable == {
        *(names.inbox_queue("MR", lane) for lane in names.LANES), *(f"inbox.MR.{lane}.dlq" for lane in names.LANES),
        *(f"audit.MR{suffix}" for suffix in (".urgent", ".routine", ".bulk", "")),
        *(f"audit.MR{suffix}.dlq" for suffix in (".urgent", ".routine", ".bulk", "")), "checkpoints.MR", "checkpoints.MR.dlq", "quarantine.MR",
    }
    assert not [e for e in exchanges if allows(mr.permission.read, e)]  # queue.bind needs read on the exchange
    assert not allows(mr.permission.read, names.DELIVERY)


def test_a_member_writes_only_its_own_exchange_and_what_the_consumer_runtime_publishes_to() -> None:
    federation = federation_with()
    exchanges, queues = resources(federation)
    mr = member_user(federation, "MR")
    writable = {e for e in exchanges if allows(mr.permission.write, e)}
    assert writable == {"pcms.platform.MR", names.QUARANTINE, names.DEAD_LETTER,
                        *(names.delay_exchange(s) for s in names.RETRY_DELAYS_SECONDS)}
    # queue.bind needs write on the queue and read on the exchange: the only queues named like a writable
    # exchange are the delay queues (pcms.delay.Ns), and no exchange is readable (see above), so nothing binds
    assert {q for q in queues if allows(mr.permission.write, q)} == {names.delay_queue(s) for s in names.RETRY_DELAYS_SECONDS}
    assert not allows(mr.permission.write, "amq.default")  # the default exchange reaches every queue
    assert mr.permission.configure == "^$"
    quarantine = next(t for t in mr.topic_permissions if t.exchange == names.QUARANTINE)
    assert allows(quarantine.write, names.quarantine_key("MR", "intake"))
    assert not allows(quarantine.write, names.quarantine_key("ML", "intake"))
    assert not allows(quarantine.write, "MRX.intake")


def test_withdrawn_members_have_no_user_and_suspended_ones_keep_theirs() -> None:
    federation = federation_with(BF="withdrawn", TD="suspended")
    users = users_by_name(federation)
    assert "pcms-bf" not in users and "pcms-td" in users
    assert {u.role for u in users.values()} == {"member", "hub", "hub-audit", "operator", "provisioner"}


def test_the_operator_sees_queues_but_reads_no_message_and_only_the_provisioner_administers() -> None:
    users = users_by_name(federation_with())
    operator = users["pcms-operator"]
    assert operator.tags == ("monitoring",)
    assert (operator.permission.configure, operator.permission.write, operator.permission.read) == ("^$", "^$", "^$")
    assert [u.name for u in users.values() if "administrator" in u.tags] == [provisioner_user(federation_with())]


def test_the_hub_audit_reads_the_hubs_audit_queue_and_publishes_checkpoints() -> None:
    federation = federation_with()
    exchanges, queues = resources(federation)
    audit = users_by_name(federation)[federation.hub_audit_broker_user]
    assert {q for q in queues if allows(audit.permission.read, q)} == {
        *(f"audit.HUB{suffix}" for suffix in (".urgent", ".routine", ".bulk", "")),
        *(f"audit.HUB{suffix}.dlq" for suffix in (".urgent", ".routine", ".bulk", ""))}
    assert allows(audit.permission.write, names.AUDIT_CHECKPOINTS)
    assert not allows(audit.permission.write, names.DELIVERY) and audit.permission.configure == "^$"


def test_only_the_hubs_services_declare_topology_once_services_have_users_of_their_own(tmp_path: Path) -> None:
    federation = federation_with()
    with_users = ServiceSettings(platform="HUB", secrets_dir=tmp_path)
    assert declares_topology("routing", with_users, federation)
    assert not declares_topology("audit", with_users, federation)
    assert not declares_topology("intake", ServiceSettings(platform="MR", secrets_dir=tmp_path), federation)
    assert declares_topology("intake", ServiceSettings(platform="MR"), federation)  # development: guest


def test_passwords_are_generated_once_readable_only_by_their_owner(tmp_path: Path) -> None:
    first = ensure_password(tmp_path, "pcms-mr")
    assert ensure_password(tmp_path, "pcms-mr").get_secret_value() == first.get_secret_value()
    mode = stat.S_IMODE((tmp_path / "broker" / "pcms-mr").stat().st_mode)
    assert mode == 0o600 and len(first.get_secret_value()) >= 40
    assert read_password(tmp_path, "pcms-mr") == first


def test_a_service_connects_as_its_own_user_to_the_host_and_vhost_of_the_url(tmp_path: Path) -> None:
    federation = federation_with()
    password = ensure_password(tmp_path, federation.hub_audit_broker_user)
    settings = ServiceSettings(platform="HUB", secrets_dir=tmp_path,
                               amqp_url=SecretStr("amqp://guest:guest@broker.example:5673/test-vh"))
    url, user = service_amqp_url("audit", settings, federation)
    assert user == "pcms-hub-audit"
    assert url.get_secret_value() == f"amqp://pcms-hub-audit:{password.get_secret_value()}@broker.example:5673/test-vh"
    assert password.get_secret_value() not in str(url) and password.get_secret_value() not in repr(url)
    assert "***" in redacted(url.get_secret_value()) and password.get_secret_value() not in redacted(url.get_secret_value())
    assert vhost_of(url.get_secret_value()) == "test-vh" and vhost_of("amqp://h:5672/") == "/"


async def test_tls_settings_become_an_amqps_url_that_aiormq_turns_into_its_ssl_context(tmp_path: Path) -> None:
    url = with_tls(SecretStr("amqp://u:p@broker:5671/vh"), enabled=True, ca_file=Path("/etc/ca.pem"),
                   cert_file=Path("/etc/client.pem"), key_file=Path("/etc/client.key"), verify=False)
    connection = aiormq.Connection(url.get_secret_value())
    assert connection.url.scheme == "amqps"
    certs = connection.ssl_certs
    assert (certs.cafile, certs.cert, certs.key, certs.verify) == ("/etc/ca.pem", "/etc/client.pem", "/etc/client.key",
                                                                   False)
    verified = aiormq.Connection(with_tls(SecretStr("amqp://u:p@broker/vh"), enabled=True).get_secret_value())
    assert verified.url.scheme == "amqps" and verified.ssl_certs.verify is True
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    assert context.verify_mode == ssl.CERT_REQUIRED  # what aiormq builds when verify is on
    assert with_tls(SecretStr("amqp://u:p@h/"), enabled=False).get_secret_value() == "amqp://u:p@h/"
    with pytest.raises(ValueError):
        with_tls(SecretStr("amqp://u:p@h/"), enabled=True, cert_file=Path("/c.pem"))


def test_settings_carry_tls_options_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCMS_AMQP_TLS", "true")
    monkeypatch.setenv("PCMS_AMQP_TLS_CA_FILE", "/etc/pcms/ca.pem")
    settings = ServiceSettings(platform="MR")
    assert settings.amqp_tls and settings.amqp_tls_ca_file == Path("/etc/pcms/ca.pem") and settings.amqp_tls_verify


def test_provisioning_creates_every_user_and_revokes_withdrawn_members(tmp_path: Path) -> None:
    admin = FakeBrokerAdmin()
    admin.users["pcms-bf"] = ("old", ())
    admin.connections["pcms-bf"] = 2
    federation = federation_with(BF="withdrawn")
    report = provision_users(federation, admin, tmp_path, "/")
    again = provision_users(federation, admin, tmp_path, "/")
    assert "pcms-bf" not in admin.users and report.revoked == ["pcms-bf"] and report.connections_closed == 2
    assert again.revoked == [] and set(admin.users) == set(report.users)
    assert admin.users["pcms-mr"][0] == read_password(tmp_path, "pcms-mr").get_secret_value()
    assert admin.topic_permissions[("/", "pcms-mr", names.QUARANTINE)].write == r"^(MR\.)"


def test_definitions_hold_hashed_passwords_permissions_and_topology_and_no_guest(tmp_path: Path) -> None:
    import base64
    import hashlib

    federation = federation_with()
    document = definitions(federation, tmp_path)
    users = {u["name"]: u for u in document["users"]}
    assert "guest" not in users
    password = read_password(tmp_path, "pcms-mr").get_secret_value().encode()
    raw = base64.b64decode(users["pcms-mr"]["password_hash"])
    assert raw[4:] == hashlib.sha256(raw[:4] + password).digest()
    assert password_hash("pcms-mr", SecretStr("x")) == password_hash("pcms-mr", SecretStr("x"))
    assert {q["name"] for q in document["queues"]} == {q.name for q in federation_topology(federation).queues}
    assert {(p["user"], p["read"]) for p in document["permissions"]} >= {("pcms-operator", "^$")}


def test_a_member_may_retry_or_park_only_into_its_own_queues() -> None:
    federation = federation_with()
    mr = member_user(federation, "MR")
    for exchange in [names.DEAD_LETTER, *(names.delay_exchange(s) for s in names.RETRY_DELAYS_SECONDS)]:
        topic = next(t for t in mr.topic_permissions if t.exchange == exchange)
        assert allows(topic.write, names.inbox_queue("MR", names.URGENT)) and allows(topic.write, "audit.MR")
        assert not allows(topic.write, names.inbox_queue("ML", names.URGENT))
        assert not allows(topic.write, names.hub_ingress_queue("MR", names.URGENT))
    kinds = {e.name: e.type for e in federation_topology(federation).exchanges}
    assert kinds[names.DEAD_LETTER] == "topic" and kinds[names.delay_exchange(1)] == "topic"  # topic permissions apply


def test_provisioning_replaces_exchanges_declared_earlier_with_another_type() -> None:
    from shared.security.provisioning import replace_changed_exchanges

    admin = FakeBrokerAdmin()
    admin.exchanges = {("/", names.DEAD_LETTER): "direct", ("/", names.delay_exchange(1)): "fanout",
                       ("/", names.DELIVERY): "direct"}
    changed = replace_changed_exchanges(admin, "/", federation_topology(federation_with()))
    assert sorted(changed) == sorted([names.DEAD_LETTER, names.delay_exchange(1)])
    assert admin.exchanges == {("/", names.DELIVERY): "direct"}


def test_a_holding_queue_belongs_to_the_user_whose_consumers_read_what_it_holds() -> None:
    federation = federation_with()
    owner = partial(holding_queue_owner, federation=federation)
    assert owner("inbox.ML.urgent.dlq") == "pcms-ml"
    assert owner("checkpoints.NE.dlq") == "pcms-ne"
    assert owner("quarantine.MR") == "pcms-mr"
    assert owner("audit.TD.dlq") == "pcms-td"
    assert owner("audit.HUB.dlq") == "pcms-hub-audit"
    assert owner("hub.ingress.NE.urgent.dlq") == "pcms-hub"
    assert owner("hub.routing.bulk.dlq") == "pcms-hub"
    assert owner("quarantine.HUB") == "pcms-hub"
    assert owner("inbox.HUB.routine.dlq") == "pcms-hub"
