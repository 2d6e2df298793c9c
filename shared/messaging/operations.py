"""What operators do with quarantined and parked messages: look, replay through validation, purge."""

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from shared.messaging import names
from shared.messaging.runtime import (
    ATTEMPT_HEADER,
    FAILED_QUEUE_HEADER,
    LAST_ERROR_HEADER,
    QUARANTINE_QUEUE_HEADER,
    QUARANTINE_REASON_HEADER,
)
from shared.messaging.topology import Topology
from shared.messaging.amqp import connection_user
from shared.security.signing import Signer

_OPERATIONAL_HEADERS = {ATTEMPT_HEADER, LAST_ERROR_HEADER, FAILED_QUEUE_HEADER, QUARANTINE_REASON_HEADER,
                        QUARANTINE_QUEUE_HEADER, "x-quarantine-service", "x-quarantine-platform", "x-quarantined-at",
                        "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                        "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count"}


@dataclass(frozen=True)
class HeldMessage:
    message_id: str | None
    type: str | None
    reason: str
    origin_queue: str | None
    attempts: int
    headers: dict[str, Any]
    body: bytes


def holding_queues(topology: Topology) -> list[str]:
    return sorted(q.name for q in topology.queues if q.name.endswith(".dlq") or q.name.startswith("quarantine."))


def describe(message: AbstractIncomingMessage, queue: str) -> HeldMessage:
    headers = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    first_death = deaths[0] if deaths and isinstance(deaths[0], dict) else {}
    reason = str(headers.get(QUARANTINE_REASON_HEADER) or headers.get(LAST_ERROR_HEADER)
                 or (f"dead-lettered by the broker: {first_death.get('reason')}" if first_death else "unknown"))
    origin = (headers.get(QUARANTINE_QUEUE_HEADER) or headers.get(FAILED_QUEUE_HEADER) or first_death.get("queue")
              or (queue.removesuffix(".dlq") if queue.endswith(".dlq") else None))
    return HeldMessage(message.message_id, message.type, reason, str(origin) if origin else None,
                       int(headers.get(ATTEMPT_HEADER, 0) or 0), headers, message.body)  # type: ignore[arg-type]


async def count(connection: AbstractConnection, queues: list[str]) -> dict[str, int]:
    counts = {}
    async with connection.channel() as channel:
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            counts[name] = queue.declaration_result.message_count or 0
    return counts


async def peek(connection: AbstractConnection, queue_name: str, limit: int) -> list[HeldMessage]:
    async with connection.channel() as channel:
        queue = await channel.get_queue(queue_name, ensure=False)
        taken: list[AbstractIncomingMessage] = []
        while len(taken) < limit and (message := await queue.get(no_ack=False, fail=False)) is not None:
            taken.append(message)
        held = [describe(m, queue_name) for m in taken]
        for message in taken:
            await message.nack(requeue=True)
        return held


async def replay(connection: AbstractConnection, queue_name: str, *, limit: int,
                 message_id: str | None = None) -> list[HeldMessage]:
    """Sends held messages back to the queue they came from (after a second), so they are parsed and validated again."""
    replayed: list[HeldMessage] = []
    channel: AbstractChannel
    async with connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
        queue = await channel.get_queue(queue_name, ensure=False)
        # back by the shortest delay queue, which routes by queue name: the way the runtime retries,
        # and the only way a member's user may route into its own queues
        retry = await channel.get_exchange(names.delay_exchange(names.RETRY_DELAYS_SECONDS[0]), ensure=False)
        skipped: list[AbstractIncomingMessage] = []
        while len(replayed) < limit and (message := await queue.get(no_ack=False, fail=False)) is not None:
            held = describe(message, queue_name)
            if (message_id and held.message_id != message_id) or not held.origin_queue:
                skipped.append(message)
                continue
            headers = {k: v for k, v in held.headers.items() if k not in _OPERATIONAL_HEADERS}
            headers["x-pcms-replayed-from"] = queue_name
            await retry.publish(
                aio_pika.Message(message.body, content_type=message.content_type, message_id=message.message_id,
                                 correlation_id=message.correlation_id, type=message.type, headers=headers,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT, user_id=connection_user(connection)),
                routing_key=held.origin_queue, mandatory=True,
            )
            await message.ack()
            replayed.append(held)
        for message in skipped:
            await message.nack(requeue=True)
    return replayed


async def purge(connection: AbstractConnection, queue_name: str) -> int:
    async with connection.channel() as channel:
        queue = await channel.get_queue(queue_name, ensure=False)
        result = await queue.purge()
        return result.message_count or 0


def is_holding_queue(name: str) -> bool:
    return name.endswith(".dlq") or name.startswith("quarantine.")



async def detach_platform(connection: AbstractConnection, code: str) -> None:
    """A withdrawn member's exchange no longer reaches the hub: its publishes are unroutable, hence refused."""
    async with connection.channel() as channel:
        exchange = await channel.get_exchange(names.platform_exchange(code), ensure=False)
        for lane in names.LANES:
            queue = await channel.get_queue(names.hub_ingress_queue(code, lane), ensure=False)
            await queue.unbind(exchange, f"message.{lane}.#")


async def release_held(connection: AbstractConnection, code: str, *, signer: Signer | None = None) -> int:
    """Delivers what the hub held for a suspended member, in order, each into its lane.

    With the hub's signer, each message is signed again now (a suspension may outlast the recipients'
    freshness limit); the connection should be the hub's broker user, the user_id recipients accept.
    """
    released = 0
    user_id = connection_user(connection)
    async with connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
        queue = await channel.get_queue(names.held_queue(code), ensure=False)
        delivery = await channel.get_exchange(names.DELIVERY, ensure=False)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            lane = str((message.headers or {}).get("x-pcms-lane") or names.ROUTINE)
            headers = dict(message.headers or {})
            if signer is not None:
                headers = signer.signed(headers, message_id=message.message_id, type=message.type,
                                        correlation_id=message.correlation_id, body=message.body)
            await delivery.publish(
                aio_pika.Message(message.body, content_type=message.content_type, message_id=message.message_id,
                                 correlation_id=message.correlation_id, type=message.type, headers=headers,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT, user_id=user_id),
                routing_key=names.delivery_key(code, lane), mandatory=True,
            )
            await message.ack()
            released += 1
    return released
