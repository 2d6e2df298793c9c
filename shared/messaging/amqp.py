"""aio-pika adapters: connection, topology declaration, confirmed mandatory publishing, signed messages."""

from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection

from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.topology import Topology, queue_arguments
from shared.security.signing import Signer


class HandshakeTimeout(ConnectionError):
    pass


async def connect(url: str, *, name: str, timeout: float = 30.0) -> AbstractConnection:
    """A plain connection for short jobs (operators' commands, tests); services use BrokerSession."""
    return await handshake(url, name=name, timeout=timeout)


async def handshake(url: str, *, name: str, timeout: float) -> AbstractConnection:
    """A connection, or HandshakeTimeout once `timeout` seconds pass without the broker completing the AMQP
    handshake: a broker out of file descriptors takes the TCP connection and then never answers."""
    try:
        return await aio_pika.connect(url, client_properties={"connection_name": name}, timeout=timeout)
    except TimeoutError as error:
        raise HandshakeTimeout(f"the broker at {_where(url)} did not complete the AMQP handshake within {timeout:g} s "
                               "(out of file descriptors, or blocked? see its log and `rabbitmq-diagnostics status`)"
                               ) from error


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (5671 if parts.scheme == 'amqps' else 5672)}"


async def open_publishing_channel(connection: AbstractConnection) -> AbstractChannel:
    return await connection.channel(publisher_confirms=True, on_return_raises=True)


async def apply_topology(connection: AbstractConnection, topology: Topology) -> None:
    async with connection.channel() as channel:
        for spec in topology.exchanges:
            await channel.declare_exchange(spec.name, spec.type, durable=True)
        for queue in topology.queues:
            await channel.declare_queue(queue.name, durable=True, arguments=queue_arguments(queue))
        for binding in topology.bindings:
            source = await channel.get_exchange(binding.source, ensure=False)
            if binding.destination_is_exchange:
                destination = await channel.get_exchange(binding.destination, ensure=False)
                await destination.bind(source, binding.routing_key)
            else:
                queue = await channel.get_queue(binding.destination, ensure=False)
                await queue.bind(source, binding.routing_key)
        for binding in topology.retired:  # every retired binding's queue is still declared above
            queue = await channel.get_queue(binding.destination, ensure=False)
            await queue.unbind(binding.source, binding.routing_key)


class AioPikaPublisher:
    """Publishes signed messages with confirms; an unroutable message raises instead of vanishing."""

    def __init__(self, channel: AbstractChannel, *, signer: Signer, user_id: str) -> None:
        self._channel = channel
        self._signer = signer
        self._user_id = user_id

    async def publish(self, message: OutgoingMessage) -> None:
        exchange = await self._channel.get_exchange(message.exchange, ensure=False)
        await exchange.publish(amqp_message(message, signer=self._signer, user_id=self._user_id),
                               routing_key=message.routing_key, mandatory=True)


def user_of(url: str) -> str:
    """The broker user a connection to this URL authenticates as: the AMQP user_id of what it publishes."""
    return unquote(urlsplit(url).username or "guest")


def connection_user(connection: AbstractConnection) -> str:
    """The user this connection authenticated as: the only AMQP user_id the broker lets it publish with."""
    return user_of(str(connection.url))


def amqp_message(message: OutgoingMessage, *, signer: Signer, user_id: str) -> aio_pika.Message:
    """The message as it goes out: signed by the platform's key, its user_id the publishing connection's user
    (the broker refuses any other)."""
    headers = signer.signed(message.headers, message_id=message.message_id, type=message.type,
                            correlation_id=message.correlation_id, body=message.body)
    return aio_pika.Message(
        body=message.body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
        headers=headers,
        priority=message.priority,
        user_id=user_id,
    )
