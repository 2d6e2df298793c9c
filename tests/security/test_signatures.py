"""Attacks on message origin and signatures, against the real broker with real broker users and keys.

The hub's consumer is wired as a service wires it (BrokerSession signing with the HUB key, the one
runtime verifying against the live federation file and its keyring, the membership watcher
rereading them); members publish as their own broker users. Every refused message must land in
quarantine with its reason and an audit HopRecorded(quarantined), and never reach the handler.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import aio_pika
import pytest

from shared.contracts.events import Hop
from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.contracts.registry import HOP_RECORDED, MESSAGE, parse
from shared.db.uow import AsyncpgUnitOfWork
from shared.federation import Federation, FederationFile, load_federation
from shared.host import _follow_membership
from shared.messaging import names, operations
from shared.messaging.amqp import amqp_message, connect
from shared.messaging.outgoing import outgoing
from shared.messaging.ports import DUPLICATE
from shared.messaging.runtime import FAILED_QUEUE_HEADER, QuarantineTarget, Subscription, start_consumers
from shared.messaging.session import BrokerSession
from shared.security.broker_access import holding_queue_owner
from shared.security.broker_credentials import read_password, with_credentials
from shared.security.keys import KeyFile, ensure_signing_keys, load_signer, read_signing_key, retire_key, rotate_key
from shared.security.origin import Evidence, MessageVerifier, judge
from shared.security.signing import Signer
from tests.broker_probe import next_message
from tests.broker_users import provision_test_users, remove_test_users
from tests.federations import write_federation
from tests.integration.conftest import migrated_pool

pytestmark = [pytest.mark.integration, pytest.mark.security]
INGRESS = names.hub_ingress_queue("NE", names.URGENT)
KEY = names.message_key("alert", "urgent", names.URGENT)


def an_alert(origin: str = "NE") -> Message:
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "alert", "submitted_by": "police", "evaluation": {"source": "A", "information": "1"},
        "body": {"alert_type": "wanted_person", "summary": "Wanted.", "entities": {"persons": [{"names": ["Ali Musa"]}]}},
    })
    return stamp(command, message_id=uuid4(), origin=origin, created_at=datetime.now(UTC))


@dataclass
class Secured:
    federation_file: Path
    secrets: Path
    amqp_url: str
    federation: Federation

    def url_as(self, code: str) -> str:
        user = self.federation.broker_user(code)
        return with_credentials(self.amqp_url, user, read_password(self.secrets, user)).get_secret_value()


@pytest.fixture
def secured(tmp_path: Path, broker, amqp_url: str, unique: str):  # noqa: ANN001, ANN201
    """A federation of the test's own: broker users in the test's vhost, a signing key per platform, a keyring."""
    federation_file = write_federation(tmp_path / "federation.yaml", {}, broker_user_prefix=f"t{unique}-")
    secrets = tmp_path / "secrets"
    ensure_signing_keys(federation_file, secrets)
    federation = load_federation(federation_file)
    provision_test_users(broker, amqp_url, federation, secrets)
    yield Secured(federation_file, secrets, amqp_url, federation)
    remove_test_users(broker, federation)


@dataclass
class HubConsumer:
    session: BrokerSession
    handled: list[Message] = field(default_factory=list)
    calls: int = 0


@pytest.fixture
async def start_hub(secured: Secured) -> AsyncIterator[Callable[..., Awaitable[HubConsumer]]]:
    tasks: list[asyncio.Task] = []

    async def start(claim: Callable[[Message], Awaitable[bool]] | None = None) -> HubConsumer:
        live = FederationFile(secured.federation_file)
        session = BrokerSession(secured.url_as("HUB"), name="hub-under-attack", max_backoff=0.5,
                                signer=load_signer(secured.secrets, "HUB", live.current()))
        verifier = MessageVerifier(live.current, own_user=session.user, refresh=live.refresh)
        hub = HubConsumer(session)

        async def handler(model: Message):  # noqa: ANN202
            hub.calls += 1
            if claim is not None and not await claim(model):
                return DUPLICATE
            hub.handled.append(model)
            return None

        subscriptions = [Subscription(INGRESS, {MESSAGE: handler})]
        target = QuarantineTarget("HUB", "enrichment", names.AUDIT)
        await session.when_connected(lambda _: start_consumers(session, session, subscriptions, target, prefetch=10,
                                                               verifier=verifier))
        tasks.append(asyncio.create_task(session.run()))
        tasks.append(asyncio.create_task(_follow_membership(live, session, every_seconds=0.2)))
        await asyncio.wait_for(session.connected.wait(), 20)
        return hub

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def observer(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """The test's own eyes on quarantine and audit (the vhost's administrator)."""
    connection = await connect(amqp_url, name="observer")
    yield await connection.channel()
    await connection.close()


@pytest.fixture
async def as_ne(secured: Secured) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel of the NE platform's own broker user."""
    connection = await connect(secured.url_as("NE"), name="ne")
    yield await connection.channel(publisher_confirms=True, on_return_raises=True)
    await connection.close()


def signed(model: Message, signer: Signer, user_id: str | None) -> aio_pika.Message:
    message = amqp_message(outgoing(model, exchange=names.platform_exchange("NE"), routing_key=KEY), signer=signer,
                           user_id=user_id or "")
    if user_id is None:
        message.user_id = None
    return message


def copy_of(message: aio_pika.Message, body: bytes | None = None) -> aio_pika.Message:
    return aio_pika.Message(message.body if body is None else body, headers=dict(message.headers),
                            message_id=message.message_id, correlation_id=message.correlation_id, type=message.type,
                            user_id=message.user_id, content_type=message.content_type)


async def publish(channel: aio_pika.abc.AbstractChannel, message: aio_pika.Message, exchange: str = "") -> None:
    target = await channel.get_exchange(exchange or names.platform_exchange("NE"), ensure=False)
    await target.publish(message, routing_key=KEY, mandatory=True)




async def eventually(probe: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def assert_quarantined(observer: aio_pika.abc.AbstractChannel, model: Message, reason: str) -> None:
    """In the hub's quarantine with the reason, and an audit record of it."""
    quarantined = await next_message(observer, names.quarantine_queue("HUB"))
    assert quarantined.message_id == str(model.message_id)
    assert reason in quarantined.headers["x-quarantine-reason"], quarantined.headers["x-quarantine-reason"]
    assert quarantined.headers["x-quarantine-queue"] == INGRESS
    recorded = parse(HOP_RECORDED, (await next_message(observer, names.audit_queue("HUB", names.ROUTINE))).body)
    assert recorded.hop == Hop.QUARANTINED and recorded.message_id == model.message_id
    assert reason in recorded.detail["reason"]


def ne_signer(secured: Secured) -> Signer:
    return Signer(KeyFile(secured.secrets, "NE", every_seconds=0))


async def test_a_message_signed_by_its_origin_and_sent_as_its_user_is_handled(secured, start_hub, as_ne):
    hub = await start_hub()
    model = an_alert()
    await publish(as_ne, signed(model, ne_signer(secured), secured.federation.broker_user("NE")))
    await eventually(lambda: hub.handled == [model])


async def test_a_tampered_body_is_quarantined_and_audited(secured, start_hub, as_ne, observer):
    hub = await start_hub()
    model = an_alert()
    genuine = signed(model, ne_signer(secured), secured.federation.broker_user("NE"))
    tampered = copy_of(genuine, body=genuine.body.replace(b"Ali Musa", b"Ali Moussa"))
    await publish(as_ne, tampered)
    await assert_quarantined(observer, model, "bad signature")
    assert hub.handled == []


async def test_an_unsigned_message_is_quarantined_and_audited(secured, start_hub, as_ne, observer):
    hub = await start_hub()
    model = an_alert()
    message = signed(model, ne_signer(secured), secured.federation.broker_user("NE"))
    message.headers = {k: v for k, v in message.headers.items() if not k.startswith("x-pcms-s") and k != "x-pcms-key-id"}
    message.headers["x-pcms-schema-version"] = genuine_version(model)
    await publish(as_ne, message)
    await assert_quarantined(observer, model, "unsigned")
    assert hub.handled == []


def genuine_version(model: Message) -> str:
    return outgoing(model, exchange="x", routing_key="y").headers["x-pcms-schema-version"]


async def test_a_message_signed_with_another_platforms_key_is_quarantined_at_the_hub(secured, start_hub, as_ne,
                                                                                      observer):
    hub = await start_hub()
    model = an_alert()
    ml_signer = Signer(read_signing_key(secured.secrets, "ML"))  # stolen, or a member speaking for another
    await publish(as_ne, signed(model, ml_signer, secured.federation.broker_user("NE")))
    await assert_quarantined(observer, model, "signed by ML")
    assert hub.handled == []


async def test_a_spoofed_envelope_origin_is_quarantined_at_the_hub(secured, start_hub, as_ne, observer):
    hub = await start_hub()
    model = an_alert(origin="ML")  # NE signs, correctly, a message claiming to come from ML
    await publish(as_ne, signed(model, ne_signer(secured), secured.federation.broker_user("NE")))
    await assert_quarantined(observer, model, "origin spoofed")
    assert hub.handled == []


async def test_the_broker_refuses_a_user_id_that_is_not_the_connections_user(secured, as_ne):
    model = an_alert()
    with pytest.raises(Exception, match="user_id"):
        await publish(as_ne, signed(model, ne_signer(secured), secured.federation.broker_user("ML")))


async def test_a_user_id_that_does_not_match_the_signer_is_quarantined(secured, start_hub, observer):
    """Someone else with broker access (here the vhost's administrator) re-publishes what NE signed."""
    hub = await start_hub()
    model = an_alert()
    await publish(observer, signed(model, ne_signer(secured), "guest"))
    await assert_quarantined(observer, model, "user_id 'guest' does not match the signer NE")
    assert hub.handled == []


async def test_a_message_without_user_id_is_quarantined(secured, start_hub, as_ne, observer):
    hub = await start_hub()
    model = an_alert()
    await publish(as_ne, signed(model, ne_signer(secured), None))
    await assert_quarantined(observer, model, "no AMQP user_id")
    assert hub.handled == []


async def test_a_key_rotates_without_restarting_the_consumer_and_the_retired_key_is_refused(secured, start_hub, as_ne,
                                                                                           observer):
    hub = await start_hub()
    ne_user = secured.federation.broker_user("NE")
    old = Signer(read_signing_key(secured.secrets, "NE"))
    current = ne_signer(secured)  # follows the key file, as NE's services do

    before = an_alert()
    await publish(as_ne, signed(before, current, ne_user))
    await eventually(lambda: before in hub.handled)

    old_id, new_id = rotate_key(secured.federation_file, secured.secrets, "NE")
    assert current.key.key_id == new_id != old_id
    with_new, with_old = an_alert(), an_alert()
    await publish(as_ne, signed(with_new, current, ne_user))
    await publish(as_ne, signed(with_old, old, ne_user))
    await eventually(lambda: with_new in hub.handled and with_old in hub.handled)

    retire_key(secured.federation_file, secured.secrets, "NE", old_id)
    await asyncio.sleep(0.6)  # the membership watcher rereads the keyring (every 0.2 s here, 2 s in services)
    late_old, still_new = an_alert(), an_alert()
    await publish(as_ne, signed(late_old, old, ne_user))
    await assert_quarantined(observer, late_old, "retired")
    await publish(as_ne, signed(still_new, current, ne_user))
    await eventually(lambda: still_new in hub.handled)
    assert late_old not in hub.handled
    assert hub.session.connections_made == 1, "no restart, no reconnection"


async def test_a_message_signed_long_ago_is_quarantined_as_a_possible_replay(secured, start_hub, as_ne, observer):
    hub = await start_hub()
    model = an_alert()
    long_ago = Signer(read_signing_key(secured.secrets, "NE"), clock=lambda: datetime.now(UTC) - timedelta(days=8))
    await publish(as_ne, signed(model, long_ago, secured.federation.broker_user("NE")))
    await assert_quarantined(observer, model, "stale")
    assert hub.handled == []


async def test_a_replayed_fresh_message_is_handled_once(secured, start_hub, as_ne, postgres_url, database_prefix):
    async with migrated_pool(postgres_url, f"{database_prefix}hub") as pool:

        async def claim(model: Message) -> bool:
            async with AsyncpgUnitOfWork(pool, lambda connection: None) as uow:
                return await uow.claim("enrichment", model.message_id)

        hub = await start_hub(claim)
        model = an_alert()
        message = signed(model, ne_signer(secured), secured.federation.broker_user("NE"))
        await publish(as_ne, message)
        await publish(as_ne, copy_of(message))  # the same bytes, captured and sent again
        await eventually(lambda: hub.calls == 2)
        assert hub.handled == [model]


async def test_held_messages_released_after_a_long_suspension_are_signed_again_by_the_hub(secured, observer):
    """What the hub held for a suspended member outlives the freshness limit; `pcms members reinstate` re-signs it."""
    hub_key = read_signing_key(secured.secrets, "HUB")
    long_ago = Signer(hub_key, clock=lambda: datetime.now(UTC) - timedelta(days=30))
    model = an_alert()
    held = amqp_message(outgoing(model, exchange=names.DELIVERY, routing_key=names.delivery_key("TD", names.HELD)),
                        signer=long_ago, user_id=secured.federation.broker_user("HUB"))
    as_hub = await connect(secured.url_as("HUB"), name="hub")
    try:
        channel = await as_hub.channel(publisher_confirms=True, on_return_raises=True)
        delivery = await channel.get_exchange(names.DELIVERY, ensure=False)
        await delivery.publish(held, routing_key=names.delivery_key("TD", names.HELD), mandatory=True)
        assert await operations.release_held(as_hub, "TD", signer=Signer(hub_key)) == 1
    finally:
        await as_hub.close()
    released = await next_message(observer, names.inbox_queue("TD", names.ROUTINE))
    evidence = Evidence(queue=names.inbox_queue("TD", names.ROUTINE), user_id=released.user_id,
                        headers=released.headers, message_id=released.message_id, type=released.type,
                        correlation_id=released.correlation_id, body=released.body)
    federation = load_federation(secured.federation_file)
    assert judge(evidence, federation, own_user=None, now=datetime.now(UTC)).accepted
    stale = Evidence(**(evidence.__dict__ | {"headers": held.headers}))
    assert "stale" in judge(stale, federation, own_user=None, now=datetime.now(UTC)).reason


async def park(channel: aio_pika.abc.AbstractChannel, message: aio_pika.Message, queue: str) -> None:
    """Into the queue's parking lot, with the header the runtime writes after a last failed attempt."""
    parked = copy_of(message)
    parked.headers = {**parked.headers, FAILED_QUEUE_HEADER: queue}
    dead_letter = await channel.get_exchange(names.DEAD_LETTER, ensure=False)
    await dead_letter.publish(parked, routing_key=queue, mandatory=True)


async def test_a_parked_message_replayed_as_its_queues_owner_is_handled_and_keeps_its_signature(secured, start_hub):
    """`pcms dlq replay` publishes as the owner of the queue: the consumer accepts its own user's replay."""
    hub = await start_hub()
    model = an_alert()
    owner = holding_queue_owner(names.dead_letter_queue(INGRESS), secured.federation)
    assert owner == secured.federation.broker_user("HUB")
    as_owner = await connect(secured.url_as("HUB"), name="operator-replay")
    try:
        channel = await as_owner.channel(publisher_confirms=True, on_return_raises=True)
        message = signed(model, ne_signer(secured), owner)  # what the hub's runtime parks: NE's signature, its own user
        await park(channel, message, INGRESS)
        replayed = await operations.replay(as_owner, names.dead_letter_queue(INGRESS), limit=10)
    finally:
        await as_owner.close()
    assert [held.message_id for held in replayed] == [str(model.message_id)]
    await eventually(lambda: hub.handled == [model])


async def test_a_member_replays_its_own_parking_lot_into_its_own_inbox_only(secured, observer):
    inbox = names.inbox_queue("ML", names.URGENT)
    owner = holding_queue_owner(names.dead_letter_queue(inbox), secured.federation)
    assert owner == secured.federation.broker_user("ML")
    as_hub = await connect(secured.url_as("HUB"), name="hub")
    as_ml = await connect(secured.url_as("ML"), name="ml-operator")
    try:
        hub_channel = await as_hub.channel(publisher_confirms=True, on_return_raises=True)
        hub_signer = Signer(read_signing_key(secured.secrets, "HUB"))
        message = signed(an_alert(), hub_signer, secured.federation.broker_user("HUB"))
        await park(hub_channel, message, inbox)
        assert len(await operations.replay(as_ml, names.dead_letter_queue(inbox), limit=10)) == 1
        arrived = await next_message(observer, inbox)
        assert arrived.user_id == owner and arrived.headers["x-pcms-signature"] == message.headers["x-pcms-signature"]
    finally:
        await as_ml.close()
        await as_hub.close()
