"""Names of exchanges, queues and routing keys. One place, so the topology reads like a map."""

HUB_ENRICHED = "pcms.hub.enriched"
DELIVERY = "pcms.delivery"
AUDIT = "pcms.audit"
AUDIT_CHECKPOINTS = "pcms.audit.checkpoints"  # fanout: the hub audit's signed checkpoints to every witness
QUARANTINE = "pcms.quarantine"
DEAD_LETTER = "pcms.dlx"
RETRY = "pcms.retry"
RETRY_DELAYS_SECONDS = (1, 5, 30, 120, 600)

URGENT, ROUTINE, BULK = "urgent", "routine", "bulk"
LANES = (URGENT, ROUTINE, BULK)
HELD = "held"  # the delivery key suffix of copies the hub holds for a suspended member
"""Priority lanes: separate queues at every hop, so alerts and urgent requests overtake routine and bulk traffic."""


LANE_PRIORITY = {URGENT: 9, ROUTINE: 5, BULK: 1}
"""Outbox priority of what a handler of each lane writes: the relay publishes urgent rows on their own, first."""


def lane_of(kind: str, priority: str) -> str:
    return URGENT if kind == "alert" or priority == URGENT else ROUTINE


RECEIPT_LANES = (ROUTINE, BULK)


def receipt_lane(delivered_on: str | None) -> str:
    """The lane of an automatic receipt: bookkeeping, never urgent (the alert it confirms goes first at every
    hop); a bulk record's receipt stays on the bulk lane, so an import never floods the routine one."""
    return BULK if delivered_on == BULK else ROUTINE


def platform_exchange(platform: str) -> str:
    return f"pcms.platform.{platform}"


def hub_ingress_queue(platform: str, lane: str) -> str:
    return f"hub.ingress.{platform}.{lane}"


def hub_routing_queue(lane: str) -> str:
    return f"hub.routing.{lane}"


def inbox_queue(platform: str, lane: str) -> str:
    return f"inbox.{platform}.{lane}"


def held_queue(platform: str) -> str:
    return f"held.{platform}"


def delivery_key(platform: str, lane: str) -> str:
    return f"{platform}.{lane}"


def enriched_key(lane: str, kind: str) -> str:
    return f"{lane}.{kind}"


def audit_queue(platform: str, lane: str) -> str:
    return f"audit.{platform}.{lane}"


def unlaned_audit_queue(platform: str) -> str:
    """The one audit queue of releases before audit lanes: still declared and consumed, so an upgrade appends
    what it held, but bound to nothing any more (Topology.retired)."""
    return f"audit.{platform}"


def audit_queues(platform: str) -> list[str]:
    return [*(audit_queue(platform, lane) for lane in LANES), unlaned_audit_queue(platform)]


def checkpoints_queue(platform: str) -> str:
    return f"checkpoints.{platform}"


def quarantine_queue(platform: str) -> str:
    return f"quarantine.{platform}"


def dead_letter_queue(queue: str) -> str:
    """The parking lot of a queue: what the broker dead-letters and what the runtime parks after its last retry."""
    return f"{queue}.dlq"


def delay_exchange(seconds: int) -> str:
    return f"pcms.delay.{seconds}s"


def delay_queue(seconds: int) -> str:
    return f"pcms.delay.{seconds}s"


def message_key(kind: str, priority: str, lane: str) -> str:
    return f"message.{lane}.{kind}.{priority}"


def audit_key(hop: str) -> str:
    """A hop as its handler writes it; the relay publishes it under its lane's key (laned_audit_key)."""
    return f"audit.{hop}"


def lane_of_priority(priority: int) -> str:
    """The lane of an outbox row: a row written outside any lane (priority 0) counts as routine."""
    if priority >= LANE_PRIORITY[URGENT]:
        return URGENT
    return BULK if 0 < priority <= LANE_PRIORITY[BULK] else ROUTINE


def laned_audit_key(lane: str, key: str) -> str:
    """audit.delivered of an urgent row goes out as audit.urgent.delivered: each lane has its own audit queue."""
    return f"audit.{lane}.{key.removeprefix('audit.')}"


def hops_key(lane: str) -> str:
    """The relay's joined hops (HopsRecorded) of one lane."""
    return laned_audit_key(lane, "hops")


def audit_binding_keys(lane: str) -> tuple[str, ...]:
    """The routine queue also takes the unlaned keys (audit.delivered): of members not yet upgraded, and of hops
    published outside the outbox (a quarantined message's)."""
    laned = f"audit.{lane}.#"
    return (laned, "audit.*") if lane == ROUTINE else (laned,)


def quarantine_key(platform: str, service: str) -> str:
    return f"{platform}.{service}"
