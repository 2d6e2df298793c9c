"""The one consumer runtime: consume -> verify -> parse -> bind log context -> handler -> commit -> ack.

The lanes of one process take turns (shared/messaging/turns.py): a routine or bulk handler starts
only when no message of a higher lane is being handled.

A batch (`pcms.batch_relayed`, shared/messaging/batches.py) is verified once and its items handled in
turn inside one transaction (`transaction`, a shared/db/uow.py SharedTransaction in the services), each
item read, checked and refused on its own exactly as if it had come alone: an item that does not parse,
claims another origin or that its handler refuses is quarantined alone, the others commit together (an
item refused by its handler may have written first: the transaction is rolled back and the others
handled again without it). A handler failure on any item rolls the whole batch back and retries it as
one message; its items that had been applied are then recognised by their ids. A batch whose transaction
finds that a copy of an item committed meanwhile (BatchContended) runs again at once, that item now a
duplicate, up to CONTENDED_PASSES times.

A message whose signature, signer, AMQP user_id or age the queue's trust rule refuses
(shared/security/origin.py), that does not parse, or that its handler refuses, goes to quarantine
with the reason and an audit record; it never reaches the handler.
A handler failure sends the message back through a delay queue with the attempt count and the
error in its headers; after the last delay it is parked in <queue>.dlq. Nothing loops and nothing is
dropped: if even the retry cannot be published, the message is rejected and the broker
dead-letters it (at-least-once).
"""

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import BaseModel, ValidationError

from shared.contracts.events import BatchRelayed, Hop, HopRecorded
from shared.contracts.identity import hop_event_id
from shared.contracts.registry import BATCH_RELAYED, UnknownWireType, parse
from shared.logging import bound_to_log
from shared.messaging import names
from shared.messaging.batch_end import batch_end
from shared.messaging.errors import BatchContended, MessageRejected
from shared.messaging.outgoing import outgoing
from shared.messaging.ports import Outcome, Publisher
from shared.messaging.turns import LaneTurns, lane_of_queue
from shared.security.origin import Evidence, MessageVerifier, Verdict

log = structlog.get_logger("consumer")

BATCH_HEADER = "x-pcms-batch-id"
QUARANTINE_REASON_HEADER = "x-quarantine-reason"
QUARANTINE_QUEUE_HEADER = "x-quarantine-queue"
ATTEMPT_HEADER = "x-pcms-attempt"
LAST_ERROR_HEADER = "x-pcms-last-error"
FAILED_QUEUE_HEADER = "x-pcms-queue"

Handler = Callable[[BaseModel], Awaitable[Outcome | None]]
TransactionScope = Callable[[str | None, list[str | None]], AbstractAsyncContextManager[object]]
"""The transaction a batch's items share, given the lane of the queue (None for a queue of no lane) and the ids
its items travel under."""
CONTENDED_PASSES = 5
"""Passes of a batch at once while copies of its items commit elsewhere meanwhile; then the retry queues."""
_PARSE_ERRORS = (ValidationError, UnknownWireType, KeyError, ValueError)


def _no_transaction(_lane: str | None, _item_ids: list[str | None]) -> AbstractAsyncContextManager[object]:
    return nullcontext()


@dataclass(frozen=True)
class ItemOfBatch:
    """One item of a batch as the runtime reads a delivery: what it would have been had it come alone."""

    body: bytes
    headers: Any
    message_id: str | None
    correlation_id: str | None
    type: str | None
    content_type: str | None


Delivery = AbstractIncomingMessage | ItemOfBatch


def items_of(batch: BatchRelayed, delivery: AbstractIncomingMessage) -> list[ItemOfBatch]:
    """Each item as it would have come alone: its own id, correlation, type and body; the batch's headers."""
    headers = {**(delivery.headers or {}), BATCH_HEADER: str(batch.batch_id)}
    return [ItemOfBatch(item.body.encode(), headers, str(item.message_id),
                        str(item.correlation_id) if item.correlation_id else None, batch.item_type,
                        delivery.content_type) for item in batch.items]


class Live:
    """A dependency read afresh for every message (the federation, which changes with membership)."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read


def bind(handler: Callable[..., Awaitable[Outcome | None]], *, new_uow: Callable[[], Any], **deps: Any) -> Handler:
    """A handler ready for the runtime: a fresh unit of work and its dependencies for every message."""

    async def handle(model: BaseModel) -> Outcome | None:
        resolved = {name: value.read() if isinstance(value, Live) else value for name, value in deps.items()}
        return await handler(model, uow=new_uow(), **resolved)

    return handle


@dataclass(frozen=True)
class Subscription:
    queue: str
    handlers: Mapping[str, Handler]


@dataclass(frozen=True)
class QuarantineTarget:
    """Where a service sends what it cannot read, and where it records that it did."""

    platform: str
    service: str
    audit_exchange: str


def quarantine_reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}" for item in error.errors()[:20]
        ]
        return "; ".join(problems)
    return f"{type(error).__name__}: {error}"


def id_of_unreadable(message: Delivery) -> UUID:
    try:
        return UUID(str(message.message_id))
    except ValueError:
        return uuid5(NAMESPACE_URL, "pcms:body:" + hashlib.sha256(message.body).hexdigest())


@dataclass(frozen=True)
class Refusal:
    """An item of a batch that goes to quarantine alone, and why."""

    reason: str
    why: dict[str, Any]
    by_handler: bool = False


class _Redo(Exception):
    """The batch's transaction is rolled back and its items not yet refused handled again."""


class Consumer:
    def __init__(
        self, channel: AbstractChannel, publisher: Publisher, subscription: Subscription, target: QuarantineTarget,
        *, verifier: MessageVerifier, turns: LaneTurns | None = None, transaction: TransactionScope = _no_transaction,
        batch_slots: asyncio.Semaphore | None = None,
    ) -> None:
        """`batch_slots`, shared by the consumers of a lane, bounds the batches taken in hand at once: a batch is
        parsed only once it has a slot, so those that wait hold their body, not their items parsed twice over."""
        self._channel = channel
        self._publisher = publisher
        self._subscription = subscription
        self._target = target
        self._verifier = verifier
        self._turns = turns or LaneTurns()
        self._lane = lane_of_queue(subscription.queue)
        self._transaction = transaction
        self._batch_slots: AbstractAsyncContextManager[object] = batch_slots or nullcontext()

    async def start(self) -> None:
        queue = await self._channel.get_queue(self._subscription.queue, ensure=False)
        await queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """The handling runs to its end even if this task is cancelled, as aio-pika cancels the handlers in flight
        when their channel closes (a broker restart, a cut link). A handler cancelled inside its transaction cancels
        an asyncpg query mid-flight: the broker-restart fault test caught such a task still waiting on asyncpg minutes
        later, the redelivered copy waiting on the database, and the consumer idle with its deliveries unacknowledged.
        Run to its end, the transaction commits or rolls back, the ack finds the channel closed, and the broker's
        redelivery is recognised by its id."""
        await asyncio.shield(self._settle(message))

    async def _settle(self, message: AbstractIncomingMessage) -> None:
        try:
            await self._take(message)
        except Exception:  # acknowledging on a channel closed meanwhile: the broker redelivers the message
            log.warning("delivery_not_settled", message_id=message.message_id, queue=self._subscription.queue,
                        exc_info=True)

    async def _take(self, message: AbstractIncomingMessage) -> None:
        started = time.perf_counter()
        with bound_to_log(
            message_id=message.message_id, correlation_id=message.correlation_id, queue=self._subscription.queue,
            type=message.type,
        ):
            async with message.process(requeue=False):
                verdict = self._verifier.check(Evidence(
                    queue=self._subscription.queue, user_id=message.user_id, headers=message.headers or {},
                    message_id=message.message_id, type=message.type, correlation_id=message.correlation_id,
                    body=message.body))
                if not verdict.accepted:
                    await self._refuse(message, verdict.reason, started, refused_by="signature", user_id=message.user_id)
                    return
                if message.type == BATCH_RELAYED:
                    async with self._batch_slots:
                        await self._handle_batch(message, verdict, started)
                    return
                try:
                    model = parse(message.type, message.body, message.headers)
                    handler = self._subscription.handlers[message.type or ""]
                except _PARSE_ERRORS as error:
                    await self._refuse(message, quarantine_reason(error), started)
                    return
                spoofed = verdict.origin_problem(getattr(model, "origin", None))
                if spoofed:
                    await self._refuse(message, spoofed, started, refused_by="origin", user_id=message.user_id)
                    return
                try:
                    async with self._turns.turn(self._lane):
                        outcome = await handler(model)
                except MessageRejected as rejection:
                    await self._refuse(message, str(rejection), started)
                    return
                except Exception as error:
                    outcome = await self._retry_or_park(message, error)
                    log.warning("message_handled", outcome=outcome, error=f"{type(error).__name__}: {error}",
                                duration_ms=_ms(started), exc_info=True)
                    return
                log.info("message_handled", outcome=str(outcome or "processed"), duration_ms=_ms(started))

    async def _handle_batch(self, message: AbstractIncomingMessage, verdict: Verdict, started: float) -> None:
        try:
            batch = parse(message.type, message.body, message.headers)
            assert isinstance(batch, BatchRelayed)
            handler = self._subscription.handlers[batch.item_type]
        except _PARSE_ERRORS as error:
            await self._refuse(message, quarantine_reason(error), started)
            return
        items = items_of(batch, message)
        refused: dict[int, Refusal] = {}
        contended = 0
        while True:
            try:
                handled = await self._handle_items(items, handler, verdict, message.user_id, refused)
                break
            except _Redo:
                continue
            except BatchContended as error:
                contended += 1
                if contended < CONTENDED_PASSES:
                    log.info("batch_contended", items=len(items), contended_runs=contended, reason=str(error))
                    continue
                failure: Exception = error
            except Exception as error:
                failure = error
            outcome = await self._retry_or_park(message, failure)
            log.warning("message_handled", outcome=outcome, error=f"{type(failure).__name__}: {failure}",
                        items=len(items), duration_ms=_ms(started), exc_info=failure)
            return
        for item, outcome, duration in handled:
            log.info("message_handled", message_id=item.message_id, correlation_id=item.correlation_id, type=item.type,
                     batch_id=message.message_id, outcome=outcome, duration_ms=duration, batch_items=len(items))
        for index, refusal in refused.items():
            item = items[index]
            with bound_to_log(message_id=item.message_id, correlation_id=item.correlation_id, type=item.type,
                              batch_id=message.message_id):
                await self._refuse(item, refusal.reason, started, **refusal.why)

    async def _handle_items(
        self, items: list[ItemOfBatch], handler: Handler, verdict: Verdict, user_id: str | None,
        refused: dict[int, Refusal],
    ) -> list[tuple[ItemOfBatch, str, float]]:
        """One pass over the items not yet refused, in one transaction, then the work the handlers left to the
        batch's end (shared/messaging/batch_end.py). An item its handler refuses may have written before refusing:
        it is set aside and the pass starts again without it (_Redo)."""
        handled: list[tuple[ItemOfBatch, str, float]] = []
        item_ids = [item.message_id for index, item in enumerate(items) if index not in refused]
        async with self._turns.turn(self._lane), self._transaction(self._lane, item_ids):
            with batch_end() as end:
                for index, item in enumerate(items):
                    if index in refused:
                        continue
                    item_started = time.perf_counter()
                    with bound_to_log(message_id=item.message_id, type=item.type, correlation_id=item.correlation_id):
                        problem = await self._handle_item(item, handler, verdict, user_id)
                    if isinstance(problem, Refusal):
                        refused[index] = problem
                        if problem.by_handler:
                            raise _Redo
                    else:
                        handled.append((item, str(problem or "processed"), _ms(item_started)))
                    await asyncio.sleep(0)  # an item may never wait on I/O: let an alert's handler in between
                await end.run()
        return handled

    async def _handle_item(
        self, item: ItemOfBatch, handler: Handler, verdict: Verdict, user_id: str | None
    ) -> Outcome | None | Refusal:
        try:
            model = parse(item.type, item.body, item.headers)
        except _PARSE_ERRORS as error:
            return Refusal(quarantine_reason(error), {})
        spoofed = verdict.origin_problem(getattr(model, "origin", None))
        if spoofed:
            return Refusal(spoofed, {"refused_by": "origin", "user_id": user_id})
        try:
            return await handler(model)
        except MessageRejected as rejection:
            return Refusal(str(rejection), {}, by_handler=True)

    async def _refuse(self, message: Delivery, reason: str, started: float, **why: Any) -> None:
        """Quarantine with the reason (and its audit record), and the message's one log line."""
        await self._quarantine(message, reason)
        log.warning("message_handled", outcome="quarantined", reason=reason, **why, duration_ms=_ms(started))

    async def _retry_or_park(self, message: AbstractIncomingMessage, error: Exception) -> str:
        headers = dict(message.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 0)) + 1  # type: ignore[arg-type]
        headers |= {ATTEMPT_HEADER: attempt, LAST_ERROR_HEADER: f"{type(error).__name__}: {error}"[:2000],
                    FAILED_QUEUE_HEADER: self._subscription.queue}
        delays = names.RETRY_DELAYS_SECONDS
        if attempt > len(delays):
            exchange_name, outcome = names.DEAD_LETTER, "parked"
        else:
            exchange_name, outcome = names.delay_exchange(delays[attempt - 1]), f"retry_in_{delays[attempt - 1]}s"
        exchange = await self._channel.get_exchange(exchange_name, ensure=False)
        await exchange.publish(_copy(message, headers, self._verifier.own_user), routing_key=self._subscription.queue,
                               mandatory=True)
        return outcome

    async def _quarantine(self, message: Delivery, reason: str) -> None:
        target = self._target
        exchange = await self._channel.get_exchange(names.QUARANTINE, ensure=False)
        headers = {
            **(message.headers or {}),
            QUARANTINE_REASON_HEADER: reason[:4000],
            QUARANTINE_QUEUE_HEADER: self._subscription.queue,
            "x-quarantine-service": target.service,
            "x-quarantine-platform": target.platform,
            "x-quarantined-at": datetime.now(UTC).isoformat(),
        }
        await exchange.publish(
            _copy(message, headers, self._verifier.own_user),
            routing_key=names.quarantine_key(target.platform, target.service), mandatory=True,
        )
        message_id = id_of_unreadable(message)
        event = HopRecorded(
            event_id=hop_event_id(message_id, Hop.QUARANTINED, target.platform, self._subscription.queue),
            message_id=message_id,
            hop=Hop.QUARANTINED,
            platform=target.platform,
            service=target.service,
            at=datetime.now(UTC),
            detail={"reason": reason[:1000], "queue": self._subscription.queue, "type": message.type},
        )
        await self._publisher.publish(
            outgoing(event, exchange=target.audit_exchange, routing_key=names.audit_key(Hop.QUARANTINED))
        )


class ChannelSource(Protocol):
    async def channel(self, **options: bool) -> AbstractChannel: ...


async def start_consumers(
    source: ChannelSource,
    publisher: Publisher,
    subscriptions: list[Subscription],
    target: QuarantineTarget,
    *,
    prefetch: int,
    verifier: MessageVerifier,
    lane_prefetch: Mapping[str, int] | None = None,
    transaction: TransactionScope = _no_transaction,
    batches_at_once: Mapping[str, int] | None = None,
) -> list[Consumer]:
    """`lane_prefetch` lowers the prefetch of a lane's queues: a delivery taken is a handler that may wait for a
    database connection, so few routine and bulk ones keep an alert's handler from queueing behind them.
    `batches_at_once` bounds, for each lane, the batches its consumers take in hand together. Without a bound, at the
    maximum, 64 batches of up to 100 alerts each were parsed and waiting for a connection in the hub's enrichment,
    and what they took stayed in its memory."""
    consumers = []
    turns = LaneTurns()  # one per process: its lanes take turns, urgent first
    slots = {lane: asyncio.Semaphore(n) for lane, n in (batches_at_once or {}).items()}
    for subscription in subscriptions:
        channel = await source.channel(publisher_confirms=True, on_return_raises=True)
        lane = lane_of_queue(subscription.queue)
        await channel.set_qos(prefetch_count=(lane_prefetch or {}).get(lane or "", prefetch))
        consumer = Consumer(channel, publisher, subscription, target, verifier=verifier, turns=turns,
                            transaction=transaction, batch_slots=slots.get(lane or ""))
        await consumer.start()
        consumers.append(consumer)
    return consumers


def _copy(message: Delivery, headers: dict, user_id: str | None) -> aio_pika.Message:
    """The same signed message (body, properties and signature headers unchanged), published by this consumer:
    its user_id is this connection's user, which the trust rules accept for a consumer's own retries."""
    return aio_pika.Message(
        user_id=user_id,
        body=message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
        headers=headers,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def wait_forever() -> None:
    await asyncio.Event().wait()
