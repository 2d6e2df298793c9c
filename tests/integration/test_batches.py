"""Batches against the real RabbitMQ and PostgreSQL: what one relay round commits for one destination travels as
one message, and its items are handled in one transaction, each refused or applied as if it had come alone."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from shared.contracts.messages import SUBMIT_ADAPTER, stamp
from shared.contracts.registry import BATCH_RELAYED, HOP_RECORDED, MESSAGE, parse
from shared.db.outbox_store import AsyncpgOutboxStore
from shared.db.uow import AsyncpgUnitOfWork, SharedTransaction
from shared.messaging import names
from shared.messaging.amqp import AioPikaPublisher, connect, open_publishing_channel, user_of
from shared.messaging.batch_end import defer_to_batch_end
from shared.messaging.errors import MessageRejected
from shared.messaging.outgoing import OutgoingMessage, outgoing
from shared.messaging.relay import OutboxRelay
from shared.messaging.runtime import BATCH_HEADER, CONTENDED_PASSES, QuarantineTarget, Subscription, start_consumers
from tests.broker_probe import next_message
from tests.signing import TestKeys

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
ALERT_KEY = "message.urgent.alert.urgent"


def an_alert(origin: str = "NE"):
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "alert", "submitted_by": "police", "evaluation": {"source": "A", "information": "1"},
        "body": {"alert_type": "wanted_person", "summary": "Wanted."},
    })
    return stamp(command, message_id=uuid4(), origin=origin, created_at=NOW)


@pytest.fixture
def keys(federation) -> TestKeys:
    return TestKeys(federation)


async def relay_alerts(pool, broker_connection, keys, amqp_url, alerts) -> None:
    """The alerts committed together at NE, then one relay round that joins them."""
    async with AsyncpgUnitOfWork(pool, lambda c: None) as uow:
        for alert in alerts:
            uow.outbox.add(outgoing(alert, exchange=names.platform_exchange("NE"), routing_key=ALERT_KEY))
    publisher = AioPikaPublisher(await open_publishing_channel(broker_connection), signer=keys.signer("NE"),
                                 user_id=user_of(amqp_url))
    relay = OutboxRelay(AsyncpgOutboxStore(pool), publisher, batch_size=50, poll_seconds=0.1, max_batch_items=100)
    assert await relay.relay_once() == len(alerts)


async def consume_ingress(pool, broker_connection, keys, amqp_url, handler) -> None:
    publisher = AioPikaPublisher(await open_publishing_channel(broker_connection), signer=keys.signer("HUB"),
                                 user_id=user_of(amqp_url))
    await start_consumers(broker_connection, publisher,
                          [Subscription(names.hub_ingress_queue("NE", names.URGENT), {MESSAGE: handler})],
                          QuarantineTarget("HUB", "enrichment", names.AUDIT), prefetch=10,
                          verifier=keys.verifier(user_of(amqp_url)),
                          transaction=lambda _lane, ids: SharedTransaction(pool, ids))


async def wait_for(condition, seconds: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert condition()


async def claims_of(pool, consumer: str, expected: int) -> set[UUID]:
    """The ids claimed by `consumer`, once `expected` are committed (or after 10 s)."""
    for _ in range(200):
        claimed = {row[0] for row in await pool.fetch(
            "SELECT message_id FROM processed_messages WHERE consumer = $1", consumer)}
        if len(claimed) >= expected:
            break
        await asyncio.sleep(0.05)
    return claimed


async def test_a_round_of_alerts_travels_as_one_batch_and_its_items_commit_in_one_transaction(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(3)]
    seen: list[tuple[UUID, bool, int]] = []

    async def handler(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            claimed = await uow.claim(consumer, model.message_id)
            seen.append((model.message_id, claimed, await uow.store.fetchval("SELECT txid_current()")))
            uow.outbox.add(OutgoingMessage(exchange=names.AUDIT, routing_key="audit.enriched", body=b"{}",
                                           type=HOP_RECORDED, message_id=f"{consumer}:{model.message_id}"))

    channel = await broker_connection.channel()
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)
    queue = await channel.get_queue(names.hub_ingress_queue("NE", names.URGENT), ensure=False)
    arrived = await queue.get(no_ack=False, timeout=10)
    assert arrived.type == BATCH_RELAYED
    assert [str(item.message_id) for item in parse(arrived.type, arrived.body, arrived.headers).items] == [
        str(alert.message_id) for alert in alerts]
    await arrived.nack(requeue=True)

    await consume_ingress(pool, broker_connection, keys, amqp_url, handler)
    await wait_for(lambda: len(seen) == 3)
    assert [(message_id, claimed) for message_id, claimed, _ in seen] == [(a.message_id, True) for a in alerts]
    assert len({transaction for _, _, transaction in seen}) == 1
    assert await claims_of(pool, consumer, 3) == {alert.message_id for alert in alerts}
    rows = await pool.fetch("SELECT message_id FROM outbox WHERE message_id LIKE $1 ORDER BY id", f"{consumer}:%")
    assert [row[0] for row in rows] == [f"{consumer}:{alert.message_id}" for alert in alerts]


async def test_an_item_its_handler_refuses_is_quarantined_alone_and_the_others_commit(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(3)]
    refused = alerts[1].message_id
    handled: list[UUID] = []

    async def handler(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            await uow.claim(consumer, model.message_id)
            if model.message_id == refused:
                raise MessageRejected("not for this platform")
        handled.append(model.message_id)

    channel = await broker_connection.channel()
    await consume_ingress(pool, broker_connection, keys, amqp_url, handler)
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)

    quarantined = await next_message(channel, names.quarantine_queue("HUB"))
    assert quarantined.message_id == str(refused) and quarantined.type == MESSAGE
    assert parse(MESSAGE, quarantined.body).message_id == refused
    assert quarantined.headers["x-quarantine-reason"] == "not for this platform"
    assert quarantined.headers[BATCH_HEADER]
    recorded = parse(HOP_RECORDED, (await next_message(channel, names.audit_queue("HUB", names.ROUTINE))).body)
    assert recorded.hop == "quarantined" and recorded.message_id == refused
    claimed = await claims_of(pool, consumer, 2)
    assert claimed == {alerts[0].message_id, alerts[2].message_id}, "the refused item's claim was rolled back"
    assert handled[-2:] == [alerts[0].message_id, alerts[2].message_id]


async def test_a_handler_failure_rolls_the_whole_batch_back_and_it_comes_back_as_one(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(3)]
    attempts: list[tuple[UUID, bool]] = []

    async def fails_once_on_the_last(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            attempts.append((model.message_id, await uow.claim(consumer, model.message_id)))
            if len(attempts) == 3:
                raise ConnectionError("database is away")

    await consume_ingress(pool, broker_connection, keys, amqp_url, fails_once_on_the_last)
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)

    await wait_for(lambda: len(attempts) == 6)
    ids = [alert.message_id for alert in alerts]
    assert attempts == [(message_id, True) for message_id in ids * 2], "the first attempt's claims were rolled back"
    assert await claims_of(pool, consumer, 3) == set(ids)


async def test_a_unit_of_work_that_failed_inside_a_batch_lets_nothing_of_the_batch_commit(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(2)]
    passes: list[UUID] = []

    async def swallows_its_failure(model) -> None:
        passes.append(model.message_id)
        try:
            async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
                await uow.claim(consumer, model.message_id)
                if len(passes) == 2:
                    raise LookupError("half done")
        except LookupError:
            pass

    await consume_ingress(pool, broker_connection, keys, amqp_url, swallows_its_failure)
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)

    await wait_for(lambda: len(passes) >= 4)  # the batch came back after its delay, and committed
    assert await claims_of(pool, consumer, 2) == {alert.message_id for alert in alerts}
    assert passes[:4] == [alerts[0].message_id, alerts[1].message_id] * 2


async def test_work_left_to_the_batch_end_runs_once_with_every_item_in_the_batch_transaction(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(3)]
    item_transactions: list[int] = []
    finished: list[tuple[list[UUID], int]] = []

    async def finish(message_ids: list[UUID]) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            finished.append((message_ids, await uow.store.fetchval("SELECT txid_current()")))
            uow.outbox.add(OutgoingMessage(exchange=names.AUDIT, routing_key="audit.enriched", body=b"{}",
                                           type=HOP_RECORDED, message_id=f"{consumer}:end"))

    async def handler(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            await uow.claim(consumer, model.message_id)
            item_transactions.append(await uow.store.fetchval("SELECT txid_current()"))
        assert defer_to_batch_end(consumer, model.message_id, finish)

    await consume_ingress(pool, broker_connection, keys, amqp_url, handler)
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)

    await wait_for(lambda: len(finished) == 1)
    assert finished == [([alert.message_id for alert in alerts], item_transactions[0])]
    assert set(item_transactions) == {item_transactions[0]}
    assert await claims_of(pool, consumer, 3) == {alert.message_id for alert in alerts}
    rows = await pool.fetch("SELECT message_id FROM outbox WHERE message_id = $1", f"{consumer}:end")
    assert len(rows) == 1


async def test_a_handler_in_flight_when_its_channel_closes_runs_to_its_commit(pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alert = an_alert()
    entered, go_on, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            if await uow.claim(consumer, model.message_id):
                entered.set()
                await go_on.wait()
                await uow.store.execute("SELECT pg_sleep(0.05)")
        finished.set()

    dropping = await connect(amqp_url, name="test-dropping")
    publisher = AioPikaPublisher(await open_publishing_channel(dropping), signer=keys.signer("HUB"),
                                 user_id=user_of(amqp_url))
    await start_consumers(
        dropping, publisher, [Subscription(names.hub_ingress_queue("NE", names.URGENT), {MESSAGE: slow})],
        QuarantineTarget("HUB", "enrichment", names.AUDIT), prefetch=10, verifier=keys.verifier(user_of(amqp_url)))
    await relay_alerts(pool, broker_connection, keys, amqp_url, [alert])
    await asyncio.wait_for(entered.wait(), 10)

    await dropping.close()
    go_on.set()
    await asyncio.wait_for(finished.wait(), 10)
    assert await claims_of(pool, consumer, 1) == {alert.message_id}, "its transaction committed"


async def test_a_batch_whose_item_a_copy_committed_meanwhile_runs_again_at_once_without_it(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(3)]
    passes: list[tuple[UUID, bool]] = []

    async def a_copy_commits_during_the_first_pass(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            passes.append((model.message_id, await uow.claim(consumer, model.message_id)))
        if len(passes) == 1:
            await pool.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)",
                               consumer, alerts[1].message_id)

    await consume_ingress(pool, broker_connection, keys, amqp_url, a_copy_commits_during_the_first_pass)
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)

    await wait_for(lambda: len(passes) == 6)
    ids = [alert.message_id for alert in alerts]
    assert passes == [(ids[0], True), (ids[1], True), (ids[2], True), (ids[0], True), (ids[1], False), (ids[2], True)]
    assert await claims_of(pool, consumer, 3) == set(ids)


async def test_a_batch_still_contended_after_its_passes_goes_through_the_retry_queues(
        pool, broker_connection, keys, amqp_url):
    consumer = f"test-{uuid4()}"
    alerts = [an_alert() for _ in range(2)]
    passes: list[float] = []
    loop = asyncio.get_running_loop()

    async def contended_every_pass_at_first(model) -> None:
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            await uow.claim(consumer, model.message_id)
            if model.message_id == alerts[1].message_id:
                passes.append(loop.time())
                if len(passes) <= CONTENDED_PASSES:
                    await uow.store.execute(  # a genuine UniqueViolationError, as a copy's committed row causes
                        "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2), ($1, $2)",
                        f"{consumer}-effect", model.message_id)

    await consume_ingress(pool, broker_connection, keys, amqp_url, contended_every_pass_at_first)
    await relay_alerts(pool, broker_connection, keys, amqp_url, alerts)

    await wait_for(lambda: len(passes) == CONTENDED_PASSES + 1)
    at_once = passes[CONTENDED_PASSES - 1] - passes[0]
    after_delay = passes[CONTENDED_PASSES] - passes[CONTENDED_PASSES - 1]
    assert at_once < names.RETRY_DELAYS_SECONDS[0], "the passes ran at once"
    assert after_delay >= names.RETRY_DELAYS_SECONDS[0] * 0.9, "the last came back through the first delay queue"
    assert await claims_of(pool, consumer, 2) == {alert.message_id for alert in alerts}


async def test_a_lane_takes_in_hand_no_more_batches_at_once_than_it_is_given(pool, broker_connection, keys, amqp_url):
    first, second = [an_alert() for _ in range(2)], [an_alert() for _ in range(2)]
    entered: list[UUID] = []
    go_on = asyncio.Event()

    async def held_until_told(model) -> None:
        entered.append(model.message_id)
        await go_on.wait()

    publisher = AioPikaPublisher(await open_publishing_channel(broker_connection), signer=keys.signer("HUB"),
                                 user_id=user_of(amqp_url))
    await start_consumers(broker_connection, publisher,
                          [Subscription(names.hub_ingress_queue("NE", names.URGENT), {MESSAGE: held_until_told})],
                          QuarantineTarget("HUB", "enrichment", names.AUDIT), prefetch=10,
                          verifier=keys.verifier(user_of(amqp_url)), batches_at_once={names.URGENT: 1})
    await relay_alerts(pool, broker_connection, keys, amqp_url, first)
    await relay_alerts(pool, broker_connection, keys, amqp_url, second)

    await wait_for(lambda: len(entered) == 1)
    await asyncio.sleep(0.5)  # both batches are delivered (prefetch 10): only the one in hand has begun
    assert entered == [first[0].message_id]
    go_on.set()
    await wait_for(lambda: len(entered) == 4)
    assert entered == [alert.message_id for alert in (*first, *second)]
