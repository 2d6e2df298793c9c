"""The broker session rebuilds everything after a lost connection: consumers resume, publishing resumes."""

import asyncio
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest

from shared.contracts.events import HopRecorded
from shared.contracts.registry import HOP_RECORDED
from shared.messaging import names
from shared.messaging.amqp import HandshakeTimeout, apply_topology, connect
from shared.messaging.outgoing import outgoing
from shared.messaging.runtime import QuarantineTarget, Subscription, start_consumers
from shared.messaging.session import BrokerSession, BrokerUnavailable
from shared.messaging.topology import federation_topology
from tests.faults.proxy import TcpProxy
from tests.signing import TestKeys

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(amqp_url):
    parts = urlsplit(amqp_url)
    link = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    yield link
    link.stop()


def via(proxy: TcpProxy, amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit((parts.scheme, f"{credentials}@127.0.0.1:{proxy.port}", parts.path, "", ""))


async def eventually(probe, within: float = 20.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + within
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def a_hop() -> HopRecorded:
    return HopRecorded(event_id=uuid4(), message_id=uuid4(), hop="accepted", platform="NE", service="intake",
                       at=datetime.now(UTC))


async def test_consumers_and_publishing_resume_after_the_connection_is_cut(amqp_url, proxy, federation):
    keys = TestKeys(federation)
    session = BrokerSession(via(proxy, amqp_url), name="session-test", max_backoff=0.5, signer=keys.signer("HUB"))
    topology = federation_topology(federation)
    await session.when_connected(lambda connection: apply_topology(connection, topology))
    received: list[HopRecorded] = []

    async def handler(event: HopRecorded) -> None:
        received.append(event)

    target = QuarantineTarget("HUB", "audit", names.AUDIT)
    await session.when_connected(lambda _: start_consumers(
        session, session, [Subscription(names.audit_queue("HUB", names.ROUTINE), {HOP_RECORDED: handler})], target, prefetch=10,
        verifier=keys.verifier(session.user)))
    supervisor = asyncio.create_task(session.run())
    try:
        await asyncio.wait_for(session.connected.wait(), 20)
        before = a_hop()
        await session.publish(outgoing(before, exchange=names.AUDIT, routing_key="audit.accepted"))
        await eventually(lambda: before in received)

        proxy.cut()
        await eventually(lambda: not session.is_connected)
        with pytest.raises(BrokerUnavailable):
            await session.publish(outgoing(a_hop(), exchange=names.AUDIT, routing_key="audit.accepted"))
        proxy.restore()
        await eventually(lambda: session.is_connected and session.connections_made == 2)

        after = a_hop()
        await session.publish(outgoing(after, exchange=names.AUDIT, routing_key="audit.accepted"))
        await eventually(lambda: after in received)
    finally:
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)


async def test_a_broker_that_takes_the_connection_and_never_answers_is_a_failed_attempt_then_a_retry(
        amqp_url, proxy, federation):
    proxy.stall()
    session = BrokerSession(via(proxy, amqp_url), name="stalled-test", max_backoff=0.2, connect_timeout=0.5,
                            signer=TestKeys(federation).signer("HUB"))
    supervisor = asyncio.create_task(session.run())
    try:
        await eventually(lambda: session.failed_attempts >= 2)
        assert not session.is_connected
        assert session.last_failure is not None and "did not complete the AMQP handshake within 0.5 s" in session.last_failure

        proxy.restore()
        await asyncio.wait_for(session.connected.wait(), 20)
        assert session.last_failure is None
    finally:
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)


async def test_a_short_job_gives_up_on_a_silent_broker_with_the_reason(amqp_url, proxy):
    proxy.stall()
    with pytest.raises(HandshakeTimeout, match="did not complete the AMQP handshake within 0.5 s"):
        await connect(via(proxy, amqp_url), name="stalled-job", timeout=0.5)
