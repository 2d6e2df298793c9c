"""At-least-once delivery with exactly-once effects, under faults: 2,000 alerts each, figures printed.

Each scenario sends 2,000 alerts from Niger while a fault strikes mid-stream, then checks that
Mali's and the hub's inboxes and the hub's audit hold every alert exactly once, and that no
effect (delivery, receipt, audit entry) happened twice. The broker and database are left running.
"""

import asyncio
import shutil
import subprocess
import time
from uuid import uuid4

import aio_pika
import pytest

from shared.contracts.registry import MESSAGE
from shared.messaging import names
from tests.faults.scenarios import ALERT, MESSAGES, RECIPIENTS, check_exactly_once, report
from tests.infra import answers


def strike_at(threshold: int, fault):  # noqa: ANN001, ANN201
    """Runs the fault once, in the background, when `threshold` messages have been accepted."""
    state: dict[str, object] = {"task": None}

    async def on_progress(accepted: int) -> None:
        if accepted >= threshold and state["task"] is None:
            state["task"] = asyncio.ensure_future(fault())

    async def finished() -> float:
        task = state["task"]
        assert task is not None, "the fault never struck"
        return await task  # type: ignore[misc]

    return on_progress, finished


async def run_scenario(fed, name: str, threshold: int, fault) -> None:  # noqa: ANN001
    on_progress, finished = strike_at(threshold, fault)
    started = time.monotonic()
    await fed.submit(MESSAGES, ALERT, on_progress=on_progress)
    fault_ended = await finished()
    drained = await fed.wait_delivered(RECIPIENTS, within=600)
    figures = await check_exactly_once(fed)
    report(name, fed, figures, total=time.monotonic() - started,
           recover=max(0.0, time.monotonic() - drained - fault_ended) if fault_ended else drained)


async def test_every_service_killed_with_sigkill_mid_stream_loses_and_doubles_nothing(fed):
    victims = ["intake@NE", "enrichment@HUB", "routing@HUB", "intake@ML", "audit@HUB", "audit@NE"]

    async def kill_each_in_turn() -> float:
        for victim in victims:
            process = fed.processes[victim]
            process.kill9()
            await asyncio.sleep(1.0)
            process.start()
            await asyncio.sleep(4.0)
        return time.monotonic()

    await run_scenario(fed, "kill -9 of every service in turn", 300, kill_each_in_turn)


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs the local broker's rabbitmqctl")
async def test_broker_restarted_mid_stream_loses_and_doubles_nothing(fed):
    async def restart_broker() -> float:
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "stop_app"], check=True, capture_output=True)
        await asyncio.sleep(3)
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "start_app"], check=True, capture_output=True)
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "await_startup"], check=True, capture_output=True)
        return time.monotonic()

    try:
        await run_scenario(fed, "broker restarted", 500, restart_broker)
    finally:
        ensure_broker_running()


@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None, reason="needs the local PostgreSQL cluster")
async def test_database_restarted_mid_stream_loses_and_doubles_nothing(fed):
    async def restart_database() -> float:
        await asyncio.to_thread(subprocess.run, ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main",
                                                 "restart", "-m", "fast"], check=True, capture_output=True)
        return time.monotonic()

    try:
        await run_scenario(fed, "database restarted", 500, restart_database)
    finally:
        ensure_database_running()


async def test_link_between_a_platform_and_the_hub_cut_for_a_while_loses_and_doubles_nothing(fed, link):
    async def cut_link() -> float:
        link.cut()
        await asyncio.sleep(10)
        link.restore()
        return time.monotonic()

    await run_scenario(fed, "link NE-broker cut 10s", 400, cut_link)


async def test_poison_messages_mixed_into_traffic_are_quarantined_and_the_rest_flows(fed, amqp_url):
    poison_ids = [str(uuid4()) for _ in range(50)]

    async def inject_poison() -> float:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(names.platform_exchange("NE"))
            for index, message_id in enumerate(poison_ids):
                body = b"not json" if index % 2 else b'{"kind": "alert", "origin": "NE"}'
                await exchange.publish(aio_pika.Message(body, type=MESSAGE, message_id=message_id),
                                       routing_key="message.urgent.alert.urgent")
        return time.monotonic()

    await run_scenario(fed, "50 poison messages mixed in", 500, inject_poison)
    quarantined = await fed.fetchval(
        "HUB", "SELECT count(DISTINCT message_id) FROM audit_log WHERE hop = 'quarantined' AND message_id = ANY($1::uuid[])",
        poison_ids)
    assert quarantined == len(poison_ids)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(names.quarantine_queue("HUB"), passive=True)
        assert queue.declaration_result.message_count == len(poison_ids)


def pg_version() -> str:
    return subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True).stdout.split()[0]


def ensure_broker_running() -> None:
    if not answers("127.0.0.1", 5672):
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True)
        subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True)


def ensure_database_running() -> None:
    if not answers("127.0.0.1", 5432):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", "start"], capture_output=True)
