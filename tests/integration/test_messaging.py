"""The broker side against the real RabbitMQ: topology, relay with confirms, consumer runtime."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import aio_pika
import httpx
import pytest

from shared.contracts.events import HopRecorded
from shared.contracts.registry import HOP_RECORDED, HOPS_RECORDED, MESSAGE, parse
from shared.db.outbox_store import AsyncpgOutboxStore
from shared.db.uow import AsyncpgUnitOfWork
from shared.messaging import names, operations
from shared.messaging.amqp import (
    AioPikaPublisher,
    amqp_message,
    apply_topology,
    connect,
    open_publishing_channel,
    user_of,
)
from shared.messaging.outgoing import OutgoingMessage, outgoing
from shared.messaging.relay import ALL_BUT_URGENT, URGENT_ONLY, OutboxRelay
from shared.messaging.runtime import ATTEMPT_HEADER, LAST_ERROR_HEADER, QuarantineTarget, Subscription, start_consumers
from shared.messaging.topology import QueueSpec, federation_topology, queue_arguments
from tests.broker_probe import next_message
from tests.signing import TestKeys

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.fixture
def keys(federation) -> TestKeys:
    """Real keys: what the tests publish is signed, and every consumer verifies (the test connects as one user,
    so the consumers' own-user rule accepts its user_id; tests/security checks user_id against real users)."""
    return TestKeys(federation)


def publisher_for(channel, keys: TestKeys, code: str, amqp_url: str) -> AioPikaPublisher:
    return AioPikaPublisher(channel, signer=keys.signer(code), user_id=user_of(amqp_url))


def a_hop() -> HopRecorded:
    return HopRecorded(event_id=uuid4(), message_id=uuid4(), hop="accepted", platform="NE", service="intake", at=NOW)




async def test_topology_declares_quorum_queues_that_dead_letter_and_can_be_applied_again(
    broker_connection, federation, broker, amqp_url
):
    await apply_topology(broker_connection, federation_topology(federation))
    vhost = amqp_url.rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=broker.management_url, auth=(broker.user, broker.password)) as api:
        queues = {q["name"]: q for q in (await api.get(f"/api/queues/{vhost}")).json()}
    for lane in names.LANES:
        inbox = queues[names.inbox_queue("ML", lane)]
        assert inbox["arguments"]["x-queue-type"] == "quorum"
        assert inbox["arguments"]["x-dead-letter-exchange"] == names.DEAD_LETTER
        assert inbox["arguments"]["x-overflow"] == "reject-publish"
        assert names.dead_letter_queue(inbox["name"]) in queues
    assert not any(name.startswith(("inbox.BF", "hub.ingress.BF")) for name in queues), "withdrawn: no queues"
    assert names.hub_ingress_queue("TD", names.ROUTINE) in queues and names.held_queue("TD") in queues, (
        "suspended: its traffic is held in its queues")


async def test_relay_publishes_committed_rows_with_confirms_and_deletes_them(pool, broker_connection, keys, amqp_url):
    channel = await broker_connection.channel()
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    hop = a_hop()
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        uow.outbox.add(outgoing(hop, exchange=names.AUDIT, routing_key="audit.accepted"))
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=50, poll_seconds=0.1)
    assert await relay.relay_once() == 1
    arrived = await next_message(channel, names.audit_queue("HUB", names.ROUTINE))
    assert arrived.type == HOP_RECORDED and arrived.message_id == str(hop.event_id)
    assert parse(arrived.type, arrived.body) == hop
    assert arrived.user_id == user_of(amqp_url) and arrived.headers["x-pcms-key-id"] == keys.keys["HUB"].key_id
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_relay_publishes_each_hop_to_the_audit_queue_of_its_lane_at_the_member_and_at_the_hub(
        pool, broker_connection, keys, amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "NE", amqp_url)
    exchange = names.platform_exchange("NE")
    by_lane = {lane: [a_hop() for _ in range(n)] for lane, n in ((names.URGENT, 1), (names.ROUTINE, 2), (names.BULK, 3))}
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        for lane, hops in by_lane.items():
            for hop in hops:
                uow.outbox.add(outgoing(hop, exchange=exchange, routing_key=names.audit_key(hop.hop),
                                        priority=names.LANE_PRIORITY[lane]))
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=50, poll_seconds=0.1)
    assert await relay.relay_once() == 6
    channel = await broker_connection.channel()
    for platform in ("NE", "HUB"):
        for lane, hops in by_lane.items():
            arrived = await next_message(channel, names.audit_queue(platform, lane))
            events = [parse(arrived.type, arrived.body)] if arrived.type == HOP_RECORDED else \
                parse(arrived.type, arrived.body, arrived.headers).hops
            assert events == hops, f"{platform} {lane}"
    queues = [*(names.audit_queue(p, lane) for p in ("NE", "HUB") for lane in names.LANES),
              names.unlaned_audit_queue("NE"), names.unlaned_audit_queue("HUB")]
    assert set((await operations.count(broker_connection, queues)).values()) == {0}


async def test_a_hop_with_an_unlaned_key_from_a_member_not_yet_upgraded_reaches_the_routine_audit_queues(
        broker_connection, keys, amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "NE", amqp_url)
    hop = a_hop()
    await publisher.publish(outgoing(hop, exchange=names.platform_exchange("NE"), routing_key="audit.accepted"))
    channel = await broker_connection.channel()
    for platform in ("NE", "HUB"):
        assert parse(HOP_RECORDED, (await next_message(channel, names.audit_queue(platform, names.ROUTINE))).body) == hop


async def test_applying_the_topology_over_an_earlier_release_unbinds_its_one_audit_queue_and_keeps_what_it_holds(
        amqp_url, federation, keys):
    connection = await connect(amqp_url, name="tests")
    try:
        async with connection.channel() as channel:  # the hub's audit queue as releases before audit lanes declared it
            audit = await channel.declare_exchange(names.AUDIT, "topic", durable=True)
            earlier = await channel.declare_queue(names.unlaned_audit_queue("HUB"), durable=True,
                                                  arguments=queue_arguments(QueueSpec(names.unlaned_audit_queue("HUB"))))
            await earlier.bind(audit, "#")
        publisher = publisher_for(await open_publishing_channel(connection), keys, "HUB", amqp_url)
        before = a_hop()
        await publisher.publish(outgoing(before, exchange=names.AUDIT, routing_key="audit.accepted"))

        await apply_topology(connection, federation_topology(federation))
        await apply_topology(connection, federation_topology(federation))  # again: unbinding what is gone is no error
        after = [a_hop(), a_hop()]
        await publisher.publish(outgoing(after[0], exchange=names.AUDIT, routing_key="audit.urgent.accepted"))
        await publisher.publish(outgoing(after[1], exchange=names.AUDIT, routing_key="audit.accepted"))

        channel = await connection.channel()
        assert parse(HOP_RECORDED, (await next_message(channel, names.unlaned_audit_queue("HUB"))).body) == before
        assert parse(HOP_RECORDED, (await next_message(channel, names.audit_queue("HUB", names.URGENT))).body) == after[0]
        assert parse(HOP_RECORDED, (await next_message(channel, names.audit_queue("HUB", names.ROUTINE))).body) == after[1]
        assert (await operations.count(connection, [names.unlaned_audit_queue("HUB")])) == {
            names.unlaned_audit_queue("HUB"): 0}
    finally:
        await connection.close()


async def test_the_relay_reclaims_the_rows_it_sent_once_enough_have_been(pool, broker_connection, keys, amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        for _ in range(30):
            uow.outbox.add(outgoing(a_hop(), exchange=names.AUDIT, routing_key="audit.accepted"))
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=10, poll_seconds=0.1, reclaim_every_sent=20)
    vacuums = "SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'outbox'"

    async def statistics_until(condition):  # noqa: ANN001, ANN202
        for _ in range(200):
            if condition(found := await pool.fetchrow(vacuums)):
                return found
            await asyncio.sleep(0.1)
        return found

    await relay.relay_once()
    watching = asyncio.create_task(relay.watch_backlog(every_seconds=0.05))
    await asyncio.sleep(0.5)
    watching.cancel()
    assert (await pool.fetchrow(vacuums))["vacuum_count"] == 0, "10 sent: not yet"
    await relay.relay_once()
    await relay.relay_once()
    # A server reports a connection's dead row versions up to seconds later: counted after a vacuum, they would
    # stay counted although the vacuum removed them.
    assert (await statistics_until(lambda row: row["n_dead_tup"] >= 30))["n_dead_tup"] == 30
    watching = asyncio.create_task(relay.watch_backlog(every_seconds=0.05))
    try:
        reclaimed = await statistics_until(lambda row: row["vacuum_count"] > 0)
    finally:
        watching.cancel()
    assert reclaimed["vacuum_count"] == 1 and reclaimed["n_dead_tup"] == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_relay_keeps_an_unroutable_row_unsent_with_the_error(pool, broker_connection, keys, amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        uow.outbox.add(OutgoingMessage(exchange=names.DELIVERY, routing_key="NOWHERE", body=b"{}", type=MESSAGE,
                                       message_id=str(uuid4())))
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=50, poll_seconds=0.1)
    await relay.relay_once()
    row = await pool.fetchrow("SELECT sent_at, attempts, last_error FROM outbox")
    assert row["sent_at"] is None and row["attempts"] == 1
    assert "PublishError" in row["last_error"]


async def test_a_backlog_of_imported_records_does_not_count_against_alerts(pool, broker_connection, keys, amqp_url):
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        for lane, rows in ((names.URGENT, 1), (names.ROUTINE, 2), (names.BULK, 4)):
            for _ in range(rows):
                uow.outbox.add(OutgoingMessage(exchange=names.DELIVERY, routing_key="NOWHERE", body=b"{}",
                                               type=MESSAGE, message_id=str(uuid4()), priority=names.LANE_PRIORITY[lane]))
    store = AsyncpgOutboxStore(pool)
    relay = OutboxRelay(store, publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url),
                        batch_size=50, poll_seconds=0.1)
    relay.note_unsent(await store.unsent_by_priority())
    assert (relay.backlog_for(names.URGENT), relay.backlog_for(names.ROUTINE), relay.backlog_for(names.BULK)) == (1, 3, 7)


async def test_consumer_quarantines_an_unreadable_message_with_the_reason_and_records_it(broker_connection, keys,
                                                                                         amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    handled = []

    async def handler(model) -> None:
        handled.append(model)

    target = QuarantineTarget("HUB", "enrichment", names.AUDIT)
    await start_consumers(broker_connection, publisher, [Subscription(names.hub_ingress_queue("NE", names.URGENT), {MESSAGE: handler})],
                          target, prefetch=10, verifier=keys.verifier(user_of(amqp_url)))
    channel = await broker_connection.channel()
    exchange = await channel.get_exchange(names.platform_exchange("NE"))
    unreadable = OutgoingMessage(exchange=names.platform_exchange("NE"), routing_key="message.urgent.alert.urgent",
                                 body=b'{"kind": "alert", "body": {}}', type=MESSAGE, message_id=str(uuid4()))
    await exchange.publish(amqp_message(unreadable, signer=keys.signer("NE"), user_id=user_of(amqp_url)),
                           routing_key=unreadable.routing_key)
    quarantined = await next_message(channel, names.quarantine_queue("HUB"))
    assert "origin: Field required" in quarantined.headers["x-quarantine-reason"]
    assert quarantined.headers["x-quarantine-queue"] == "hub.ingress.NE.urgent"
    recorded = parse(HOP_RECORDED, (await next_message(channel, names.audit_queue("HUB", names.ROUTINE))).body)
    assert recorded.hop == "quarantined" and str(recorded.message_id) == quarantined.message_id
    assert handled == []


async def test_a_failed_message_comes_back_after_a_delay_and_succeeds(broker_connection, keys, amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    attempts: list[float] = []

    async def fails_once(model) -> None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) == 1:
            raise ConnectionError("database is away")

    target = QuarantineTarget("HUB", "audit", names.AUDIT)
    await start_consumers(broker_connection, publisher, [Subscription(names.audit_queue("HUB", names.ROUTINE), {HOP_RECORDED: fails_once})],
                          target, prefetch=10, verifier=keys.verifier(user_of(amqp_url)))
    await publisher.publish(outgoing(a_hop(), exchange=names.AUDIT, routing_key="audit.accepted"))
    deadline = asyncio.get_running_loop().time() + 15
    while len(attempts) < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= names.RETRY_DELAYS_SECONDS[0] * 0.9


async def test_a_message_that_fails_its_last_attempt_is_parked_with_the_error_and_not_looped(broker_connection, keys,
                                                                                             amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    attempts = []

    async def failing(model) -> None:
        attempts.append(model)
        raise RuntimeError("still broken")

    target = QuarantineTarget("HUB", "audit", names.AUDIT)
    await start_consumers(broker_connection, publisher, [Subscription(names.audit_queue("HUB", names.ROUTINE), {HOP_RECORDED: failing})],
                          target, prefetch=10, verifier=keys.verifier(user_of(amqp_url)))
    hop = a_hop()
    last_attempt = outgoing(hop, exchange=names.AUDIT, routing_key="audit.accepted")
    last_attempt.headers[ATTEMPT_HEADER] = len(names.RETRY_DELAYS_SECONDS)
    await publisher.publish(last_attempt)
    channel = await broker_connection.channel()
    parked = await next_message(channel, names.dead_letter_queue(names.audit_queue("HUB", names.ROUTINE)))
    assert parked.message_id == str(hop.event_id)
    assert parked.headers[ATTEMPT_HEADER] == len(names.RETRY_DELAYS_SECONDS) + 1
    assert parked.headers[LAST_ERROR_HEADER] == "RuntimeError: still broken"
    await asyncio.sleep(0.5)
    assert len(attempts) == 1


async def test_an_operator_replays_a_quarantined_message_back_through_validation(broker_connection):
    channel = await broker_connection.channel()
    quarantine = await channel.get_exchange(names.QUARANTINE)
    await quarantine.publish(
        aio_pika.Message(b'{"fixed": "now"}', type=HOP_RECORDED, message_id="m-1",
                         headers={"x-quarantine-reason": "origin: Field required",
                                  "x-quarantine-queue": names.audit_queue("HUB", names.ROUTINE)}),
        routing_key="HUB.audit",
    )
    await asyncio.sleep(0.2)
    assert (await operations.count(broker_connection, [names.quarantine_queue("HUB")]))[names.quarantine_queue("HUB")] == 1
    [held] = await operations.peek(broker_connection, names.quarantine_queue("HUB"), limit=5)
    assert held.reason == "origin: Field required" and held.origin_queue == names.audit_queue("HUB", names.ROUTINE)
    replayed = await operations.replay(broker_connection, names.quarantine_queue("HUB"), limit=10)
    assert [m.message_id for m in replayed] == ["m-1"]
    back = await next_message(channel, names.audit_queue("HUB", names.ROUTINE))
    assert back.body == b'{"fixed": "now"}' and "x-quarantine-reason" not in back.headers
    assert back.headers["x-pcms-replayed-from"] == names.quarantine_queue("HUB")
    assert (await operations.count(broker_connection, [names.quarantine_queue("HUB")]))[names.quarantine_queue("HUB")] == 0


async def test_relay_joins_the_hops_of_a_round_in_one_signed_message_and_deletes_every_row_it_sent(
        pool, broker_connection, keys, amqp_url):
    channel = await open_publishing_channel(broker_connection)
    publisher = publisher_for(channel, keys, "HUB", amqp_url)
    hops = [a_hop() for _ in range(3)]
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        for hop in hops:
            uow.outbox.add(outgoing(hop, exchange=names.AUDIT, routing_key="audit.accepted"))
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=50, poll_seconds=0.1)
    assert await relay.relay_once() == 3
    arrived = await next_message(channel, names.audit_queue("HUB", names.ROUTINE))
    assert arrived.type == HOPS_RECORDED and arrived.routing_key == names.hops_key(names.ROUTINE)
    assert parse(arrived.type, arrived.body, arrived.headers).hops == hops
    assert arrived.user_id == user_of(amqp_url) and arrived.headers["x-pcms-key-id"] == keys.keys["HUB"].key_id
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_urgent_rows_have_a_relay_round_of_their_own_and_rows_take_their_lanes_priority(
        pool, broker_connection, keys, amqp_url):
    publisher = publisher_for(await open_publishing_channel(broker_connection), keys, "HUB", amqp_url)
    alert_hop, bulk_hop, explicit = a_hop(), a_hop(), a_hop()
    async with AsyncpgUnitOfWork(pool, lambda c: None, priority=names.LANE_PRIORITY[names.URGENT]) as uow:
        uow.outbox.add(outgoing(alert_hop, exchange=names.AUDIT, routing_key="audit.accepted"))
        uow.outbox.add(outgoing(explicit, exchange=names.AUDIT, routing_key="audit.accepted", priority=1))
    async with AsyncpgUnitOfWork(pool, lambda c: None, priority=names.LANE_PRIORITY[names.BULK]) as uow:
        uow.outbox.add(outgoing(bulk_hop, exchange=names.AUDIT, routing_key="audit.accepted"))
    priorities = dict(await pool.fetch("SELECT message_id, priority FROM outbox"))
    assert priorities == {str(alert_hop.event_id): 9, str(explicit.event_id): 1, str(bulk_hop.event_id): 1}
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=50, poll_seconds=0.1)

    assert await relay.relay_once(URGENT_ONLY) == 1
    unsent = {row[0] for row in await pool.fetch("SELECT message_id FROM outbox WHERE sent_at IS NULL")}
    assert unsent == {str(explicit.event_id), str(bulk_hop.event_id)}
    assert await relay.relay_once(ALL_BUT_URGENT) == 2
