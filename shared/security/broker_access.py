"""Who may do what on the broker: every RabbitMQ user of a federation, with its tags and permissions. Pure.

RabbitMQ checks (access-control guide, 3.10), per AMQP operation:

    operation                     configure        write                 read
    exchange/queue.declare        the resource     (DLX: the DLX)        (DLX: the queue)
    ... passive=true              -                -                     -
    queue.bind / unbind           -                the queue             the exchange
    exchange.bind / unbind        -                destination exchange  source exchange
    basic.publish                 -                the exchange          -
    basic.get / consume / purge   -                -                     the queue

plus topic permissions (write: the routing key of a publish to a topic exchange; read: the binding
key of a bind to one) and the validated user_id (a publish whose user_id is not the connection's
user is refused with PRECONDITION_FAILED).

So a member platform has no configure permission at all, write on its own exchange and on what the
consumer runtime publishes to (quarantine under its own key; the dead-letter and delay exchanges,
which are topic exchanges so that it may use there only its own queues' names as routing keys:
a retry is routed back by queue name, and without that restriction it could retry a message into
another platform's inbox), and read on its own queues only: read on no exchange, so it can bind nothing anywhere (and has no
write on any queue either). It never reads pcms.delivery: that direct exchange would let whoever
may read it bind a queue to another platform's key.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from shared.federation import Federation
from shared.messaging import names
from shared.messaging.topology import federation_topology

NOTHING = "^$"
EVERYTHING = ".*"


@dataclass(frozen=True)
class Permission:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str = NOTHING


@dataclass(frozen=True)
class BrokerUser:
    name: str
    role: str  # member, hub, hub-audit, operator, provisioner
    tags: tuple[str, ...]
    permission: Permission
    topic_permissions: tuple[TopicPermission, ...] = ()
    platform: str | None = None


def provisioner_user(federation: Federation) -> str:
    """The administrator that creates users and declares the topology; never used by a service."""
    return f"{federation.broker_user_prefix}provisioner"


def exactly(resources: Iterable[str]) -> str:
    """A regex matching these names and nothing else (RabbitMQ matches permissions with re:run, unanchored)."""
    listed = sorted(set(resources))
    return "^(" + "|".join(re.escape(name) for name in listed) + ")$" if listed else NOTHING


def key_prefix(*prefixes: str) -> str:
    return "^(" + "|".join(re.escape(p) for p in prefixes) + ")"


def _runtime_exchanges() -> list[str]:
    """What the consumer runtime publishes to besides quarantine: retries and parked messages."""
    return [names.DEAD_LETTER, *(names.delay_exchange(s) for s in names.RETRY_DELAYS_SECONDS)]


def _with_parking_lots(queues: Iterable[str], existing: set[str]) -> list[str]:
    wanted = list(queues)
    return [q for q in [*wanted, *(names.dead_letter_queue(q) for q in wanted)] if q in existing]


def member_queues(federation: Federation, code: str) -> list[str]:
    """The queues a member platform's services consume from (and may read with the management 'get')."""
    existing = {q.name for q in federation_topology(federation).queues}
    own = [*(names.inbox_queue(code, lane) for lane in names.LANES), *names.audit_queues(code),
           names.checkpoints_queue(code), names.quarantine_queue(code)]
    return _with_parking_lots(own, existing)


def _retry_permissions(consumed: Iterable[str]) -> tuple[TopicPermission, ...]:
    """Retries and parked messages are routed by the name of the queue they came from: only its own queues'."""
    return tuple(TopicPermission(exchange, write=exactly(consumed)) for exchange in _runtime_exchanges())


def _retried(federation: Federation, queues: Iterable[str]) -> list[str]:
    """Of these queues, those the runtime retries and parks (they have a parking lot)."""
    dead_lettering = {q.name for q in federation_topology(federation).queues if q.dead_letter}
    return [q for q in queues if q in dead_lettering]


def member_user(federation: Federation, code: str) -> BrokerUser:
    quarantine_keys = key_prefix(names.quarantine_key(code, ""))
    consumed = [*(names.inbox_queue(code, lane) for lane in names.LANES), *names.audit_queues(code),
                names.checkpoints_queue(code)]
    return BrokerUser(
        name=federation.broker_user(code), role="member", tags=(), platform=code,
        permission=Permission(
            configure=NOTHING,
            write=exactly([names.platform_exchange(code), names.QUARANTINE, *_runtime_exchanges()]),
            read=exactly(member_queues(federation, code)),
        ),
        topic_permissions=(
            TopicPermission(names.platform_exchange(code), write=key_prefix("message.", "audit.")),
            TopicPermission(names.QUARANTINE, write=quarantine_keys),
            *_retry_permissions(_retried(federation, consumed)),
        ),
    )


def hub_user(federation: Federation) -> BrokerUser:
    """The hub owns the broker: it declares the topology and declares it again when membership changes."""
    return BrokerUser(name=federation.broker_user(federation.hub.code), role="hub", tags=(), platform=federation.hub.code,
                      permission=Permission(EVERYTHING, EVERYTHING, EVERYTHING))


def hub_audit_user(federation: Federation) -> BrokerUser:
    """The hub's audit log: reads every platform's audit events, publishes signed checkpoints to the witnesses."""
    hub = federation.hub.code
    existing = {q.name for q in federation_topology(federation).queues}
    return BrokerUser(
        name=federation.hub_audit_broker_user, role="hub-audit", tags=(), platform=hub,
        permission=Permission(
            configure=NOTHING,
            write=exactly([names.AUDIT_CHECKPOINTS, names.AUDIT, names.QUARANTINE, *_runtime_exchanges()]),
            read=exactly(_with_parking_lots(names.audit_queues(hub), existing)),
        ),
        topic_permissions=(
            TopicPermission(names.AUDIT, write=key_prefix("audit.")),
            TopicPermission(names.QUARANTINE, write=key_prefix(names.quarantine_key(hub, ""))),
            *_retry_permissions(_retried(federation, names.audit_queues(hub))),
        ),
    )


def operator_user(federation: Federation) -> BrokerUser:
    """Sees queues, rates and connections in the management UI; reads no message (no read permission)."""
    return BrokerUser(name=federation.operator_broker_user, role="operator", tags=("monitoring",),
                      permission=Permission(NOTHING, NOTHING, NOTHING))


def provisioner(federation: Federation) -> BrokerUser:
    return BrokerUser(name=provisioner_user(federation), role="provisioner", tags=("administrator",),
                      permission=Permission(EVERYTHING, EVERYTHING, EVERYTHING))


def broker_users(federation: Federation) -> list[BrokerUser]:
    """Every user the federation needs now. Withdrawn members have none; suspended ones keep theirs."""
    members = [member_user(federation, p.code) for p in federation.connected_platforms if p.role == "member"]
    return [provisioner(federation), hub_user(federation), hub_audit_user(federation), operator_user(federation), *members]


def service_users(federation: Federation) -> set[str]:
    """The users services connect as (they all need a password in the secrets directory)."""
    return {u.name for u in broker_users(federation) if u.role in ("member", "hub", "hub-audit")}


def is_federation_user(federation: Federation, name: str) -> bool:
    """A user this federation's prefix owns: provisioning deletes those it no longer needs, and only those."""
    return name.startswith(federation.broker_user_prefix)


def holding_queue_owner(queue: str, federation: Federation) -> str:
    """The broker user whose consumers read what a quarantine or parking lot holds.

    Replays are published as this user: a consumer accepts its own user's replays of a message
    that still carries its original signature, and a member may route into its own queues only.
    """
    origin = queue.removesuffix(".dlq")
    parts = origin.split(".")
    if len(parts) >= 2 and parts[0] in ("inbox", "checkpoints", "quarantine") and federation.knows(parts[1]):
        return federation.broker_user(parts[1])
    if len(parts) == 2 and parts[0] == "audit" and federation.knows(parts[1]):
        return federation.service_broker_user("audit", parts[1])
    return federation.broker_user(federation.hub.code)
