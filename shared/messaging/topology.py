"""The broker topology, declared in code and idempotent.

    platform P intake ──> pcms.platform.P ──message.<lane>.#──> hub.ingress.P.<lane> ──> enrichment
                                 │ audit.<lane>.#                                        │
                                 ├──────────> audit.P.<lane> (P's own audit)             v
                                 └──(e2e)──> pcms.audit <── hub services   pcms.hub.enriched ──<lane>.#──> hub.routing.<lane>
                                                 │ audit.<lane>.#                                                │ routing
                                                 v                                                               v
                                             audit.HUB.<lane>              pcms.delivery ──P.<lane>──> inbox.P.<lane> ──> P intake

Every hop has one queue per lane (urgent, routine, bulk), consumed side by side, so an alert never
waits behind routine or bulk traffic; so has the audit (the relay publishes hops under their lane's
key, audit.<lane>.<hop>; unlaned keys, audit.<hop>, go to the routine queue).

Every consuming queue is a bounded quorum queue (max-length with reject-publish, so publishers
are refused rather than messages dropped) that dead-letters at-least-once to pcms.dlx -> <queue>.dlq,
its parking lot. A failed handler's message is retried through a delay queue
(pcms.delay.<n>s, TTL n seconds, dead-lettering to pcms.retry, which routes by queue name back to
the queue); after the last delay it is parked. Unparseable messages go to
pcms.quarantine -> quarantine.<platform>. Each platform's traffic
enters the hub through its own durable queue (hub.ingress.P), so a shovel can carry it when
the platform runs its own broker.
"""

from dataclasses import dataclass, field

from shared.federation import Federation
from shared.messaging import names

DELIVERY_LIMIT = 5
MAX_QUEUE_LENGTH = 200_000


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    type: str = "topic"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    dead_letter: bool = True
    delay_seconds: int | None = None


@dataclass(frozen=True)
class BindingSpec:
    source: str
    destination: str
    routing_key: str
    destination_is_exchange: bool = False


@dataclass(frozen=True)
class Topology:
    exchanges: list[ExchangeSpec] = field(default_factory=list)
    queues: list[QueueSpec] = field(default_factory=list)
    bindings: list[BindingSpec] = field(default_factory=list)
    retired: list[BindingSpec] = field(default_factory=list)  # what earlier releases bound: removed when applied


def federation_topology(federation: Federation) -> Topology:
    """Everything the federation needs, for the platforms that are active now."""
    hub = federation.hub.code
    topo = Topology(
        exchanges=[
            ExchangeSpec(names.HUB_ENRICHED),
            ExchangeSpec(names.DELIVERY, "direct"),
            ExchangeSpec(names.AUDIT),
            ExchangeSpec(names.AUDIT_CHECKPOINTS, "fanout"),
            ExchangeSpec(names.QUARANTINE),
            # topic, not direct/fanout: the broker's topic permissions then hold each platform to its own queues'
            # names as routing keys here, so nobody can park or retry a message into another platform's queue
            ExchangeSpec(names.DEAD_LETTER, "topic"),
            ExchangeSpec(names.RETRY, "direct"),
            *(ExchangeSpec(names.delay_exchange(s), "topic") for s in names.RETRY_DELAYS_SECONDS),
        ],
        queues=[QueueSpec(names.hub_routing_queue(lane)) for lane in names.LANES],
        bindings=[BindingSpec(names.HUB_ENRICHED, names.hub_routing_queue(lane), f"{lane}.#") for lane in names.LANES],
    )
    _audit_queues(topo, names.AUDIT, hub, unlaned_key="#")
    for platform in federation.connected_platforms:
        code = platform.code
        exchange = names.platform_exchange(code)
        topo.exchanges.append(ExchangeSpec(exchange))
        for lane in names.LANES:
            topo.queues.extend([QueueSpec(names.hub_ingress_queue(code, lane)), QueueSpec(names.inbox_queue(code, lane))])
            topo.bindings.extend([
                BindingSpec(exchange, names.hub_ingress_queue(code, lane), f"message.{lane}.#"),
                BindingSpec(names.DELIVERY, names.inbox_queue(code, lane), names.delivery_key(code, lane)),
            ])
        topo.queues.append(QueueSpec(names.quarantine_queue(code), dead_letter=False))
        topo.bindings.extend([
            BindingSpec(exchange, names.AUDIT, "audit.#", destination_is_exchange=True),
            BindingSpec(names.QUARANTINE, names.quarantine_queue(code), f"{code}.#"),
        ])
        if code != hub:
            topo.queues.append(QueueSpec(names.held_queue(code), dead_letter=False))
            topo.bindings.append(BindingSpec(names.DELIVERY, names.held_queue(code), names.delivery_key(code, names.HELD)))
            _audit_queues(topo, exchange, code, unlaned_key="audit.#")
            topo.queues.append(QueueSpec(names.checkpoints_queue(code)))
            topo.bindings.append(BindingSpec(names.AUDIT_CHECKPOINTS, names.checkpoints_queue(code), ""))
    for queue in [q for q in topo.queues if q.dead_letter]:
        topo.queues.append(QueueSpec(names.dead_letter_queue(queue.name), dead_letter=False))
        topo.bindings.append(BindingSpec(names.DEAD_LETTER, names.dead_letter_queue(queue.name), queue.name))
        topo.bindings.append(BindingSpec(names.RETRY, queue.name, queue.name))
    for seconds in names.RETRY_DELAYS_SECONDS:
        topo.queues.append(QueueSpec(names.delay_queue(seconds), dead_letter=False, delay_seconds=seconds))
        topo.bindings.append(BindingSpec(names.delay_exchange(seconds), names.delay_queue(seconds), "#"))
    return topo


def _audit_queues(topo: Topology, exchange: str, code: str, *, unlaned_key: str) -> None:
    """A platform's audit queues, one per lane; the one queue of earlier releases is kept for what it holds."""
    for lane in names.LANES:
        topo.queues.append(QueueSpec(names.audit_queue(code, lane)))
        topo.bindings.extend(BindingSpec(exchange, names.audit_queue(code, lane), key)
                             for key in names.audit_binding_keys(lane))
    topo.queues.append(QueueSpec(names.unlaned_audit_queue(code)))
    topo.retired.append(BindingSpec(exchange, names.unlaned_audit_queue(code), unlaned_key))


def queue_arguments(queue: QueueSpec) -> dict[str, object]:
    arguments: dict[str, object] = {"x-queue-type": "quorum"}
    if queue.dead_letter:
        arguments |= {
            "x-dead-letter-exchange": names.DEAD_LETTER,
            "x-dead-letter-routing-key": queue.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-max-length": MAX_QUEUE_LENGTH,
            "x-overflow": "reject-publish",
        }
    if queue.delay_seconds is not None:
        arguments |= {
            "x-message-ttl": queue.delay_seconds * 1000,
            "x-dead-letter-exchange": names.RETRY,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return arguments
