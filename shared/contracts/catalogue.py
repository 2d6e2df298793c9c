"""Who sends and who reads each contract, and through which exchange, routing key and queue.

A small explicit table, checked against the code by the contract tests: the consumers against each
service's bootstrap (its Subscriptions), the producers against the messages the handlers really
publish (run with the in-memory fakes). The versioning check uses it to say whom a breaking change
breaks, and the AsyncAPI document (shared/contracts/asyncapi.py) is built from it and the topology.

Patterns use ``{platform}`` for a platform code, ``{kind}``, ``{priority}``, ``{hop}``, ``{service}``,
``{recipient}`` and ``{origin}`` for values of the message.
"""

import inspect
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.contracts import registry
from shared.federation import Federation
from shared.messaging import names

Scope = Literal["hub", "active", "active_members"]

# wire type -> schema file stem (shared/contracts/schemas/...)
SCHEMA_OF: dict[str, str] = {
    registry.MESSAGE: "message",
    registry.MESSAGE_ENRICHED: "message_enriched",
    registry.MESSAGE_DISPATCHED: "message_dispatched",
    registry.ROUTING_DECIDED: "routing_decided",
    registry.HOP_RECORDED: "hop_recorded",
    registry.HOPS_RECORDED: "hops_recorded",
    registry.CHECKPOINT_PUBLISHED: "checkpoint_published",
    registry.MATCH_FOUND: "match_found",
    registry.BATCH_RELAYED: "batch_relayed",
}
HTTP_CONTRACTS: dict[str, str] = {
    "submit_message": "intake's HTTP API (POST /v1/messages) at every platform, for officers' applications",
}


def name_in(*candidates: str, **rename: str) -> tuple[str, str]:
    """(attribute of shared/messaging/names.py, its pattern): the first candidate names.py has.

    A function becomes a pattern by calling it with its parameter names as placeholders
    (``inbox_queue(platform, lane)`` -> ``inbox.{platform}.{lane}``); ``rename`` renames placeholders.
    """
    for candidate in candidates:
        value = getattr(names, candidate, None)
        if callable(value):
            parameters = inspect.signature(value).parameters
            return candidate, value(*("{" + rename.get(p, p) + "}" for p in parameters))
        if isinstance(value, str):
            return candidate, value
    raise LookupError(f"none of {candidates} is in shared/messaging/names.py")


def _placeholders(template: str) -> list[str]:
    return re.findall(r"\{([a-z_]+)\}", template)


def expand(template: str, federation: Federation, scope: "Scope") -> list[str]:
    """Every concrete name: {platform} over the scope's platforms, {lane} over the lanes (if names.py has them)."""
    values = {"platform": platforms_of(scope, federation), "lane": list(getattr(names, "LANES", ()))}
    keys = [key for key in dict.fromkeys(_placeholders(template)) if key in values]
    out = []
    for combination in itertools.product(*(values[key] for key in keys)):
        text = template
        for key, value in zip(keys, combination, strict=True):
            text = text.replace("{" + key + "}", value)
        out.append(text)
    return sorted(set(out))


@dataclass(frozen=True)
class Consumer:
    service: str
    queue: tuple[str, str]  # (attribute of names.py, pattern)
    scope: Scope
    wire_types: tuple[str, ...]
    runs_at: str
    description: str

    @property
    def pattern(self) -> str:
        return self.queue[1]

    def queues(self, federation: Federation) -> list[str]:
        return expand(self.pattern, federation, self.scope)

    def runs_on(self, queue: str, federation: Federation) -> str:
        """The platform whose service reads ``queue``."""
        if self.runs_at == "hub":
            return federation.hub.code
        for code in platforms_of(self.scope, federation):
            if queue in expand(self.pattern.replace("{platform}", code), federation, self.scope):
                return code
        raise LookupError(queue)


@dataclass(frozen=True)
class Producer:
    service: str
    wire_type: str
    exchange: str  # pattern; {platform} ranges over `scope`
    routing_key: str  # pattern; every placeholder stands for a value of the message
    scope: Scope
    description: str

    def exchanges(self, federation: Federation) -> list[str]:
        return expand(self.exchange, federation, self.scope)

    def matches(self, exchange: str, routing_key: str, federation: Federation) -> bool:
        return exchange in self.exchanges(federation) and re.fullmatch(_pattern(self.routing_key), routing_key) is not None


def _pattern(template: str) -> str:
    parts = re.split(r"(\{[a-z_]+\})", template)
    return "".join("[A-Za-z0-9_-]+" if part.startswith("{") else re.escape(part) for part in parts)


def platforms_of(scope: Scope, federation: Federation) -> list[str]:
    if scope == "hub":
        return [federation.hub.code]
    if scope == "active_members":
        return [p.code for p in federation.active_members]
    return [p.code for p in federation.active_platforms]


_PLATFORM_EXCHANGE = name_in("platform_exchange")[1]
_AUDIT_KEY = name_in("audit_key")[1]  # published outside the outbox (a quarantined message's hop)
_LANED_AUDIT_KEY = name_in("laned_audit_key", key="hop")[1]  # what the outbox relay publishes
_HOPS_KEY = name_in("hops_key")[1]

CONSUMERS: tuple[Consumer, ...] = (
    Consumer("enrichment", name_in("hub_ingress_queue"), "active", (registry.MESSAGE, registry.BATCH_RELAYED), "hub",
             "normalises the entities of every published message, indexes them and attaches cross-match hits"),
    Consumer("routing", name_in("hub_routing_queue", "HUB_ROUTING_QUEUE"), "hub",
             (registry.MESSAGE_ENRICHED, registry.BATCH_RELAYED), "hub",
             "decides the recipients of every enriched message and dispatches one copy to each"),
    Consumer("intake", name_in("inbox_queue"), "active",
             (registry.MESSAGE_DISPATCHED, registry.ROUTING_DECIDED, registry.MATCH_FOUND, registry.BATCH_RELAYED),
             "every active platform (its own inbox)",
             "takes delivered messages into the platform's inbox, acknowledges receipt, records routing decisions "
             "and hit notifications"),
    Consumer("audit", name_in("audit_queue"), "active", (registry.HOP_RECORDED, registry.HOPS_RECORDED),
             "every active platform (its own audit queues)", "appends every hop to the platform's audit log"),
    Consumer("audit", name_in("unlaned_audit_queue"), "active", (registry.HOP_RECORDED, registry.HOPS_RECORDED),
             "every active platform (its own audit queue)",
             "appends what the one audit queue of releases before audit lanes still holds"),
    Consumer("audit", name_in("checkpoints_queue"), "active_members", (registry.CHECKPOINT_PUBLISHED,),
             "every active member (witness of the hub's log)", "witnesses the hub audit log's signed checkpoints"),
)

PRODUCERS: tuple[Producer, ...] = (
    Producer("intake", registry.MESSAGE, _PLATFORM_EXCHANGE, name_in("message_key")[1], "active",
             "what the platform's officers submit, stamped; and receipts/acknowledgements of what it received"),
    Producer("intake", registry.HOP_RECORDED, _PLATFORM_EXCHANGE, _LANED_AUDIT_KEY, "active",
             "accepted, published (outbox relay), delivered and acknowledged hops"),
    Producer("enrichment", registry.MESSAGE_ENRICHED, names.HUB_ENRICHED,
             name_in("enriched_key")[1] if hasattr(names, "enriched_key") else "{kind}.{priority}", "hub",
             "the message with its normalised entities and cross-match hits"),
    Producer("enrichment", registry.HOP_RECORDED, names.AUDIT, _LANED_AUDIT_KEY, "hub", "the enriched hop"),
    Producer("routing", registry.MESSAGE_DISPATCHED, names.DELIVERY,
             name_in("delivery_key", platform="recipient")[1] if hasattr(names, "delivery_key") else "{recipient}", "hub",
             "one copy of the message per recipient, keyed by the recipient's code"),
    Producer("routing", registry.ROUTING_DECIDED, names.DELIVERY,
             name_in("delivery_key", platform="origin")[1] if hasattr(names, "delivery_key") else "{origin}", "hub",
             "to the origin: who the message was dispatched to, who was refused and why"),
    Producer("routing", registry.MATCH_FOUND, names.DELIVERY, name_in("delivery_key", platform="recipient")[1], "hub",
             "hit notifications to the owners of both matching records and to the hub"),
    Producer("routing", registry.HOP_RECORDED, names.AUDIT, _LANED_AUDIT_KEY, "hub", "the routed hop"),
    Producer("audit", registry.CHECKPOINT_PUBLISHED, getattr(names, "AUDIT_CHECKPOINTS", "pcms.audit.checkpoints"), "",
             "hub", "the hub audit log's signed checkpoints, to every member's witness"),
    Producer("intake", registry.HOPS_RECORDED, _PLATFORM_EXCHANGE, _HOPS_KEY, "active",
             "the hops of one outbox relay round, joined in one message"),
    *(Producer(service, registry.HOPS_RECORDED, names.AUDIT, _HOPS_KEY, "hub",
               "the hops of one outbox relay round, joined in one message") for service in ("enrichment", "routing")),
    Producer("runtime", registry.HOP_RECORDED, _PLATFORM_EXCHANGE, _AUDIT_KEY, "active",
             "the quarantined hop of a message a platform's consumer could not read"),
    Producer("runtime", registry.HOP_RECORDED, names.AUDIT, _AUDIT_KEY, "hub",
             "the quarantined hop of a message a hub service could not read"),
)


_JOINED = "; joined with others of one relay round for the same destination (since 1.3)"
PRODUCERS += tuple(Producer(p.service, registry.BATCH_RELAYED, p.exchange, p.routing_key, p.scope, p.description + _JOINED)
                   for p in PRODUCERS if p.wire_type in registry.JOINABLE)


def consumers_of(wire_type: str) -> list[Consumer]:
    return [consumer for consumer in CONSUMERS if wire_type in consumer.wire_types]


def producers_of(wire_type: str) -> list[Producer]:
    return [producer for producer in PRODUCERS if producer.wire_type == wire_type]


def wire_types_of_contract(contract: str) -> list[str]:
    """The wire types whose schema file is ``contract`` (a file stem)."""
    return [wire for wire, stem in SCHEMA_OF.items() if stem == contract]


def _expected_reads(expectations_dir: Path | None) -> dict[tuple[str, str], set[str]]:
    """{(consumer service, wire type): field paths it declares it reads} from the consumer expectations."""
    reads: dict[tuple[str, str], set[str]] = {}
    if expectations_dir is None or not expectations_dir.is_dir():
        return reads
    for path in sorted(expectations_dir.glob("*.json")):
        declared = json.loads(path.read_text(encoding="utf-8"))
        for expectation in declared.get("messages", []):
            key = (declared["consumer"], expectation["wire_type"])
            reads.setdefault(key, set()).update(expectation.get("reads", {}))
    return reads


def _plain(path: str) -> str:
    return re.sub(r"<[^>]*>|\{\}", "", path).replace("..", ".").strip(".")


def readers_of_contract(contract: str, path: str = "", *, expectations_dir: Path | None = None) -> str:
    """Who reads a contract, in words; marks the consumers that declare they read the changed field."""
    if contract in HTTP_CONTRACTS:
        return HTTP_CONTRACTS[contract]
    wires = wire_types_of_contract(contract)
    if not wires:
        return f"no declared consumer (contract {contract!r} is not in shared/contracts/catalogue.py)"
    reads = _expected_reads(expectations_dir)
    changed = _plain(path)
    parts = []
    for wire in wires:
        for consumer in consumers_of(wire):
            declared = reads.get((consumer.service, wire), set())
            uses = any(changed and (_plain(p) == changed or _plain(p).startswith(changed + ".")
                                    or _plain(p).startswith(changed + "[")
                                    or changed.startswith(_plain(p) + ".") or changed.startswith(_plain(p) + "["))
                       for p in declared)
            mark = " - declares it reads this field" if uses else ""
            parts.append(f"{consumer.service} at {consumer.runs_at} ({wire} on {consumer.pattern}){mark}")
    return "; ".join(parts) if parts else f"{', '.join(wires)}: no consumer declared"
