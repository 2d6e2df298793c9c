"""One broker connection per process, rebuilt whole after any loss.

aio-pika's robust connection reconnects but, after a broker restart, can come back without its
consumers or with publishers that wait forever. This session instead treats a lost connection (or a
consumer channel closed by the broker) as the end of that connection: it reconnects with backoff,
declares the topology again, reopens the publishing channel and starts every consumer again.
Deliveries taken before the loss are never acked on the new connection: each message is acked on
the channel it came from, or the broker redelivers it.
"""

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection

from shared.messaging.amqp import amqp_message, handshake, user_of
from shared.messaging.outgoing import OutgoingMessage
from shared.security.signing import Signer

log = structlog.get_logger("broker")

OnConnected = Callable[[AbstractConnection], Awaitable[None]]


class BrokerUnavailable(ConnectionError):
    pass


class BrokerSession:
    def __init__(self, url: str, *, name: str, signer: Signer, publish_timeout: float = 30.0,
                 max_backoff: float = 10.0, connect_timeout: float = 30.0) -> None:
        """`connect_timeout` bounds the AMQP handshake: a broker that takes the TCP connection and never answers
        (out of file descriptors, say) is a failed attempt, logged and retried, not a start that waits forever."""
        self._url = url
        self._connect_timeout = connect_timeout
        self._signer = signer
        self.user = user_of(url)
        self._name = name
        self._publish_timeout = publish_timeout
        self._max_backoff = max_backoff
        self._on_connected: list[OnConnected] = []
        self._connection: AbstractConnection | None = None
        self._publishing: AbstractChannel | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections_made = 0
        self.failed_attempts = 0
        self.last_failure: str | None = None  # why the latest attempt failed; None once connected

    @property
    def is_connected(self) -> bool:
        return self.connected.is_set()

    async def when_connected(self, setup: OnConnected) -> None:
        """Runs setup on every connection from now on, and on the current one if there is one."""
        self._on_connected.append(setup)
        if self._connection is not None and self.is_connected:
            try:
                await setup(self._connection)
            except Exception as error:  # e.g. a queue the hub has not declared yet: reconnect with backoff and retry
                log.warning("broker_setup_failed", error=f"{type(error).__name__}: {error}")
                self.rebuild()

    def rebuild(self) -> None:
        """Drops the connection; everything is set up again, from current data, on the next one."""
        self._lost.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._connect()
                failures = 0
                await self._lost.wait()
                log.warning("broker_connection_closed")
            except asyncio.CancelledError:
                await self._close()
                raise
            except Exception as error:
                failures += 1
                self.failed_attempts += 1
                self.last_failure = f"{type(error).__name__}: {error}"
                log.warning("broker_connect_failed", error=self.last_failure, attempt=failures)
            await self._close()
            await asyncio.sleep(min(0.5 * 2 ** min(failures, 6), self._max_backoff))

    async def _connect(self) -> None:
        self._lost.clear()
        connection = await handshake(self._url, name=self._name, timeout=self._connect_timeout)
        self._connection = connection
        connection.close_callbacks.add(lambda *_: self._lost.set())
        self._publishing = await self.channel(publisher_confirms=True, on_return_raises=True)
        for setup in self._on_connected:
            await setup(connection)
        self.connections_made += 1
        self.last_failure = None
        self.connected.set()
        log.info("broker_connected", connections_made=self.connections_made)

    async def channel(self, **options: bool) -> AbstractChannel:
        """A channel whose unexpected close ends the connection, so everything is rebuilt together."""
        assert self._connection is not None
        channel = await self._connection.channel(**options)
        channel.close_callbacks.add(lambda _, error: self._lost.set() if error is not None else None)
        return channel

    async def _close(self) -> None:
        self.connected.clear()
        connection, self._connection, self._publishing = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), timeout=5)
            except Exception:
                pass

    async def publish(self, message: OutgoingMessage) -> None:
        channel = self._publishing
        if channel is None or channel.is_closed or not self.is_connected:
            raise BrokerUnavailable("not connected to the broker")
        exchange = await channel.get_exchange(message.exchange, ensure=False)
        await asyncio.wait_for(
            exchange.publish(amqp_message(message, signer=self._signer, user_id=self.user),
                             routing_key=message.routing_key, mandatory=True),
            timeout=self._publish_timeout,
        )
