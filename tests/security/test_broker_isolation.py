"""Attacks on the broker by a member platform, an operator and a withdrawn member, against the real RabbitMQ.

Every user is provisioned by shared/security/provisioning.py into the test's own vhost, with a
prefix of the test's own, and removed afterwards. Each refusal is also found in the broker's log
(`access to ... refused for user ...`) when that log is readable here.
"""

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aio_pika
import aiormq
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from shared.federation import Federation
from shared.membership import change
from shared.messaging import names
from shared.security.broker_credentials import read_password, vhost_of, with_credentials
from shared.security.provisioning import HttpBrokerAdmin, provision_users
from tests.broker_users import admin_access, provision_test_users, remove_test_users
from tests.federations import federation_dict
from tests.infra import Broker

pytestmark = [pytest.mark.integration, pytest.mark.security]

REFUSED = (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.ChannelClosed)


@dataclass
class Provisioned:
    federation: Federation
    amqp_url: str
    secrets_dir: Path
    broker: Broker

    def url_of(self, user: str) -> str:
        return with_credentials(self.amqp_url, user, read_password(self.secrets_dir, user)).get_secret_value()

    def member(self, code: str) -> str:
        return self.federation.broker_user(code)

    async def connect(self, user: str) -> AbstractConnection:
        return await aio_pika.connect(self.url_of(user), client_properties={"connection_name": f"attack-{user}"})

    @property
    def vhost(self) -> str:
        return vhost_of(self.amqp_url)


@pytest.fixture
def provisioned(broker: Broker, amqp_url: str, unique: str, tmp_path: Path) -> Iterator[Provisioned]:
    federation = Federation.model_validate(federation_dict(broker_user_prefix=f"t{unique}-", BF="withdrawn"))
    secrets_dir = tmp_path / "secrets"
    provision_test_users(broker, amqp_url, federation, secrets_dir)
    try:
        yield Provisioned(federation, amqp_url, secrets_dir, broker)
    finally:
        remove_test_users(broker, federation)


async def _seed(p: Provisioned, queue: str, body: bytes = b'{"secret": "for ML only"}') -> None:
    """A message where the attacker wants it, put there by the hub (which owns the broker)."""
    connection = await p.connect(p.member(p.federation.hub.code))
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


def _log_file() -> Path | None:
    if shutil.which("rabbitmq-diagnostics") is None:
        return None
    done = subprocess.run(["rabbitmq-diagnostics", "-q", "log_location"], capture_output=True, text=True, timeout=60)
    for line in done.stdout.splitlines():
        path = Path(line.strip())
        if line.strip().startswith("/") and path.is_file():
            return path
    return None


REFUSAL_MARKS = ("refused for user", "but authenticated user was", "login refused", "is deleted")


def refusals_logged(user: str, within: float = 5.0) -> list[str] | None:
    """The broker's log lines refusing this user (None: this broker's log is not readable here)."""
    log_file = _log_file()
    if log_file is None:
        return None
    deadline = time.monotonic() + within
    while True:
        lines = [line for line in log_file.read_text(errors="replace").splitlines()
                 if any(mark in line for mark in REFUSAL_MARKS) and f"'{user}'" in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def assert_logged(user: str, *needles: str) -> None:
    lines = refusals_logged(user)
    if lines is None:
        return  # a broker in a container: its log is not ours to read
    for needle in needles:
        assert any(needle in line for line in lines), f"no refusal of {needle!r} for {user} in the broker log: {lines}"


async def _refused(channel_action, connection: AbstractConnection) -> str:  # noqa: ANN001
    channel: AbstractChannel = await connection.channel(publisher_confirms=True)
    with pytest.raises(REFUSED) as refused:
        await channel_action(channel)
    return str(refused.value)


async def test_a_platform_cannot_consume_or_get_from_another_platforms_inbox(provisioned: Provisioned) -> None:
    p = provisioned
    await _seed(p, names.inbox_queue("ML", names.URGENT))
    connection = await p.connect(p.member("MR"))
    async with connection:
        async def ignore(message: AbstractIncomingMessage) -> None:
            pass

        async def consume(channel: AbstractChannel) -> None:
            queue = await channel.get_queue(names.inbox_queue("ML", names.URGENT), ensure=False)
            await queue.consume(ignore)

        async def get(channel: AbstractChannel) -> None:
            queue = await channel.get_queue(names.inbox_queue("ML", names.URGENT), ensure=False)
            await queue.get(fail=False)

        assert "ACCESS_REFUSED" in await _refused(consume, connection)
        assert "ACCESS_REFUSED" in await _refused(get, connection)
        own = await (await connection.channel()).get_queue(names.inbox_queue("MR", names.URGENT), ensure=False)
        await own.consume(ignore)  # its own inbox, it may
    assert_logged(p.member("MR"), "queue 'inbox.ML.urgent'")


async def test_a_platform_cannot_publish_to_another_platforms_exchange(provisioned: Provisioned) -> None:
    p = provisioned
    connection = await p.connect(p.member("MR"))
    async with connection:
        async def publish_as_niger(channel: AbstractChannel) -> None:
            exchange = await channel.get_exchange(names.platform_exchange("NE"), ensure=False)
            await exchange.publish(aio_pika.Message(b"{}"), routing_key="message.urgent.alert.urgent")

        assert "ACCESS_REFUSED" in await _refused(publish_as_niger, connection)
        own_channel = await connection.channel(publisher_confirms=True)
        own = await own_channel.get_exchange(names.platform_exchange("MR"), ensure=False)
        await own.publish(aio_pika.Message(b"{}", user_id=p.member("MR")), routing_key="message.urgent.alert.urgent")
    assert_logged(p.member("MR"), "exchange 'pcms.platform.NE'")


async def test_a_platform_cannot_declare_bind_or_reroute_anything(provisioned: Provisioned) -> None:
    p = provisioned
    connection = await p.connect(p.member("MR"))
    async with connection:
        async def declare_queue(channel: AbstractChannel) -> None:
            await channel.declare_queue(f"spy.{p.member('MR')}", durable=False, auto_delete=True)

        async def bind_own_inbox_to_malis_key(channel: AbstractChannel) -> None:
            queue = await channel.get_queue(names.inbox_queue("MR", names.URGENT), ensure=False)
            await queue.bind(names.DELIVERY, names.delivery_key("ML", names.URGENT))

        async def bind_own_exchange_to_delivery(channel: AbstractChannel) -> None:
            own = await channel.get_exchange(names.platform_exchange("MR"), ensure=False)
            await own.bind(names.DELIVERY, names.delivery_key("ML", names.URGENT))

        async def declare_exchange(channel: AbstractChannel) -> None:
            await channel.declare_exchange("spy", aio_pika.ExchangeType.FANOUT, auto_delete=True)

        for attack in (declare_queue, bind_own_inbox_to_malis_key, bind_own_exchange_to_delivery, declare_exchange):
            assert "ACCESS_REFUSED" in await _refused(attack, connection), attack.__name__
    assert_logged(p.member("MR"), "queue 'spy.", "exchange 'pcms.delivery'")


async def test_a_platform_cannot_publish_as_another_broker_user(provisioned: Provisioned) -> None:
    p = provisioned
    connection = await p.connect(p.member("MR"))
    async with connection:
        async def spoof(channel: AbstractChannel) -> None:
            exchange = await channel.get_exchange(names.platform_exchange("MR"), ensure=False)
            await exchange.publish(aio_pika.Message(b"{}", user_id=p.member("NE")), routing_key="audit.spoofed")

        channel = await connection.channel(publisher_confirms=True)
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as refused:
            await spoof(channel)
        assert "user_id property set to" in str(refused.value) or "PRECONDITION_FAILED" in str(refused.value)
    assert_logged(p.member("MR"), f"user_id property set to '{p.member('NE')}'")


async def test_a_platform_cannot_quarantine_under_another_platforms_key(provisioned: Provisioned) -> None:
    p = provisioned
    connection = await p.connect(p.member("MR"))
    async with connection:
        async def quarantine_as_mali(channel: AbstractChannel) -> None:
            exchange = await channel.get_exchange(names.QUARANTINE, ensure=False)
            await exchange.publish(aio_pika.Message(b"{}"), routing_key=names.quarantine_key("ML", "intake"))

        assert "ACCESS_REFUSED" in await _refused(quarantine_as_mali, connection)
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.QUARANTINE, ensure=False)
        await exchange.publish(aio_pika.Message(b"{}"), routing_key=names.quarantine_key("MR", "intake"))
    assert_logged(p.member("MR"), "topic 'ML.intake'")


async def test_a_platform_cannot_retry_or_park_a_message_into_another_platforms_queue(provisioned: Provisioned) -> None:
    """A retry goes back by queue name (delay queue -> pcms.retry -> <queue>): only its own queues' names are allowed."""
    p = provisioned
    connection = await p.connect(p.member("MR"))
    async with connection:
        for exchange_name in (names.delay_exchange(1), names.DEAD_LETTER):
            async def inject(channel: AbstractChannel) -> None:
                exchange = await channel.get_exchange(exchange_name, ensure=False)
                await exchange.publish(aio_pika.Message(b"{}"), routing_key=names.inbox_queue("ML", names.URGENT))

            assert "ACCESS_REFUSED" in await _refused(inject, connection), exchange_name
        channel = await connection.channel(publisher_confirms=True)
        own = await channel.get_exchange(names.DEAD_LETTER, ensure=False)
        await own.publish(aio_pika.Message(b"{}"), routing_key=names.inbox_queue("MR", names.URGENT))  # its own: parked
    assert_logged(p.member("MR"), "topic 'inbox.ML.urgent' in exchange 'pcms.delay.1s'",
                  "topic 'inbox.ML.urgent' in exchange 'pcms.dlx'")


async def test_the_operator_sees_queues_but_cannot_read_a_message(provisioned: Provisioned) -> None:
    p = provisioned
    await _seed(p, names.inbox_queue("ML", names.URGENT))
    operator = p.federation.operator_broker_user
    auth = (operator, read_password(p.secrets_dir, operator).get_secret_value())
    vhost = quote(p.vhost, safe="")
    with httpx.Client(base_url=p.broker.management_url, auth=auth, timeout=30) as api:
        listed = api.get(f"/api/queues/{vhost}")
        assert listed.status_code == 200
        assert names.inbox_queue("ML", names.URGENT) in {q["name"] for q in listed.json()}
        got = api.post(f"/api/queues/{vhost}/{names.inbox_queue('ML', names.URGENT)}/get",
                       json={"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"})
        assert got.status_code in (401, 403), got.text
        assert "for ML only" not in got.text
    connection = await p.connect(operator)
    async with connection:
        async def get(channel: AbstractChannel) -> None:
            queue = await channel.get_queue(names.inbox_queue("ML", names.URGENT), ensure=False)
            await queue.get(fail=False)

        assert "ACCESS_REFUSED" in await _refused(get, connection)
    assert_logged(operator, "basic.get caused a channel exception access_refused: access to queue 'inbox.ML.urgent'")


async def test_a_withdrawn_members_user_is_deleted_and_its_connection_closed(provisioned: Provisioned) -> None:
    p = provisioned
    ne_url = p.url_of(p.member("NE"))
    connection = await aio_pika.connect(ne_url)
    closed = []
    connection.close_callbacks.add(lambda *_: closed.append(True))
    withdrawn = Federation.model_validate(change(p.federation, "NE", "withdraw").federation)
    with HttpBrokerAdmin(admin_access(p.broker)) as admin:
        report = provision_users(withdrawn, admin, p.secrets_dir, p.vhost)
        assert p.member("NE") not in admin.user_names()
    assert report.revoked == [p.member("NE")]
    deadline = time.monotonic() + 10  # the broker closes a deleted user's connections (CONNECTION_FORCED); so do we
    while not (closed or connection.is_closed) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert closed or connection.is_closed
    with pytest.raises((aiormq.exceptions.ProbableAuthenticationError, aiormq.exceptions.AMQPConnectionError,
                        ConnectionError)):
        await aio_pika.connect(ne_url)
    with HttpBrokerAdmin(admin_access(p.broker)) as admin:
        assert p.member("BF") not in admin.user_names()  # withdrawn before: never had a user
    assert_logged(p.member("NE"), "is deleted", "login refused")
