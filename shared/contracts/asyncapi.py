"""The AsyncAPI 3.0 document of the exchange, generated from the code.

    python -m shared.contracts.asyncapi           # (re)write docs/asyncapi.yaml
    python -m shared.contracts.asyncapi --check   # exit 1 when docs/asyncapi.yaml is out of date

Built from the broker topology of deploy/federation.yaml (shared/messaging/topology.py), the wire
types (shared/contracts/registry.py), who sends and reads them (shared/contracts/catalogue.py) and
the JSON Schemas of the contracts (shared/contracts/generate.py): every exchange and queue is a
channel with its AMQP binding, every binding's routing key is listed on its queue, every producer
and consumer is an operation, and every wire type is a message whose payload is its JSON Schema.
"""

import argparse
import copy
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from shared.contracts import catalogue
from shared.contracts.base import SCHEMA_VERSION
from shared.contracts.generate import CONTRACTS, current_schemas
from shared.contracts.versioning import VERSION_HEADER
from shared.security.signing import (
    KEY_ID_HEADER,
    KEY_ID_PATTERN,
    SIGNATURE_HEADER,
    SIGNATURE_VERSION,
    SIGNED_AT_HEADER,
)
from shared.federation import DEFAULT_FEDERATION_FILE, Federation, load_federation
from shared.messaging import names
from shared.messaging.topology import ExchangeSpec, QueueSpec, Topology, federation_topology, queue_arguments

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
QUARANTINED = "pcms.quarantined"  # not a contract: a copy of whatever could not be read, with the reason in headers

# Headers the consumer runtime (shared/messaging/runtime.py) sets on quarantined and retried copies.
QUARANTINE_HEADERS = {
    "x-quarantine-reason": "Why the message was refused: the field paths and reasons, or the version problem.",
    "x-quarantine-queue": "Queue the message was consumed from.",
    "x-quarantine-service": "Service that refused it.",
    "x-quarantine-platform": "Platform of that service.",
    "x-quarantined-at": "When (ISO 8601, UTC).",
}
RETRY_HEADERS = {
    "x-pcms-attempt": "How many times the handler failed on this message.",
    "x-pcms-last-error": "The handler's last error.",
    "x-pcms-queue": "Queue the message goes back to after the delay.",
}


def _id(text: str) -> str:
    """An AsyncAPI identifier (channels, operations, messages): letters, digits, _ and -."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")


def _channel_id(kind: str, name: str) -> str:
    return _id(f"{kind}-{name}")


def _components_schemas() -> dict[str, Any]:
    """Every contract's JSON Schema with its $defs hoisted into components.schemas (refs rewritten).

    The AsyncAPI schema format names the discriminator property only; pydantic's OpenAPI-style
    mapping is kept as x-discriminator-mapping.
    """
    hoisted: dict[str, Any] = {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                    out[key] = "#/components/schemas/" + value.removeprefix("#/$defs/")
                elif key == "discriminator" and isinstance(value, dict):
                    out[key] = value["propertyName"]
                    if value.get("mapping"):
                        out["x-discriminator-mapping"] = {
                            tag: "#/components/schemas/" + ref.removeprefix("#/$defs/") for tag, ref in value["mapping"].items()
                        }
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    def put(name: str, schema: Any) -> None:
        """A contract may also be nested in another (HopRecorded in HopsRecorded): the same schema, once."""
        unversioned = {key: value for key, value in schema.items() if key != "x-schema-version"}
        if name in hoisted:
            if {key: value for key, value in hoisted[name].items() if key != "x-schema-version"} != unversioned:
                raise ValueError(f"two different schemas are both called {name!r}; rename one of the models")
            if "x-schema-version" in hoisted[name]:
                return
        hoisted[name] = schema

    schemas = current_schemas()
    for stem, (title, _) in CONTRACTS.items():
        schema = copy.deepcopy(schemas[f"{stem}.json"])
        for name, definition in schema.pop("$defs", {}).items():
            put(name, rewrite(definition))
        schema.pop("$schema", None)
        put(title, rewrite(schema))
    return dict(sorted(hoisted.items()))


def _title_of_contract(stem: str) -> str:
    return CONTRACTS[stem][0]


SIGNATURE_HEADER_DOCS = {
    KEY_ID_HEADER: {"type": "string", "pattern": KEY_ID_PATTERN, "examples": ["MR-20261129-a1b2"],
                    "description": "Id of the Ed25519 key that signed the message, listed in the federation's keyring."},
    SIGNATURE_HEADER: {"type": "string", "contentEncoding": "base64",
                       "description": f"Ed25519 signature of the compact JSON array [\"{SIGNATURE_VERSION}\", key id, "
                                      "signed-at, message_id, type, correlation_id, contract version, sha256(body) hex]. "
                                      "The AMQP user_id must be a broker user of the signer (or the consumer's own, "
                                      "for its retries); anything else is quarantined (shared/security/origin.py)."},
    SIGNED_AT_HEADER: {"type": "string", "format": "date-time",
                       "description": "When it was signed (UTC); older than the consumer's freshness limit is refused "
                                      "as a possible replay."},
}


def _messages() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for wire, stem in catalogue.SCHEMA_OF.items():
        readers = "; ".join(f"{c.service} on {c.pattern}" for c in catalogue.consumers_of(wire)) or "nobody"
        senders = "; ".join(f"{p.service} to {p.exchange} ({p.routing_key or 'no key'})" for p in catalogue.producers_of(wire))
        messages[_id(wire)] = {
            "name": wire,
            "title": _title_of_contract(stem),
            "summary": f"AMQP type {wire}. Sent by {senders}. Read by {readers}.",
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {VERSION_HEADER: {
                    "type": "string", "pattern": r"^\d+\.\d+$", "examples": [SCHEMA_VERSION],
                    "description": "Contract version major.minor the producer wrote; absent means 1.0. A consumer refuses "
                                   "another major and ignores unknown fields only of a newer minor.",
                }, **SIGNATURE_HEADER_DOCS},
                "required": list(SIGNATURE_HEADER_DOCS),
            },
            "payload": {"$ref": f"#/components/schemas/{_title_of_contract(stem)}"},
            "correlationId": {"description": "Correlation of the case or exchange (AMQP correlation_id).",
                              "location": "$message.header#/correlation_id"},
            "bindings": {"amqp": {"messageType": wire, "contentEncoding": "utf-8", "bindingVersion": AMQP_BINDING_VERSION}},
        }
    messages[_id(QUARANTINED)] = {
        "name": QUARANTINED,
        "title": "Quarantined message",
        "summary": "A byte-for-byte copy of a message a consumer could not parse, validate or accept, with the reason "
                   "in its headers. Its AMQP type is the original's.",
        "headers": {"type": "object", "properties": {k: {"type": "string", "description": v}
                                                     for k, v in QUARANTINE_HEADERS.items()}},
        "payload": {"description": "The original body, unchanged (possibly not JSON)."},
    }
    messages[_id("pcms.retried")] = {
        "name": "pcms.retried",
        "title": "Retried or parked message",
        "summary": "A copy of a message whose handler failed, on its way back to its queue after a delay, or parked in "
                   "<queue>.dlq after the last attempt. Its AMQP type and body are the original's.",
        "headers": {"type": "object", "properties": {k: {"type": "string", "description": v}
                                                     for k, v in RETRY_HEADERS.items()}},
        "payload": {"description": "The original body, unchanged."},
    }
    return messages


def _exchange_binding(spec: ExchangeSpec) -> dict[str, Any]:
    return {"amqp": {"is": "routingKey", "exchange": {"name": spec.name, "type": spec.type, "durable": True,
                                                       "autoDelete": False, "vhost": "/"},
                     "bindingVersion": AMQP_BINDING_VERSION}}


def _queue_binding(spec: QueueSpec) -> dict[str, Any]:
    return {"amqp": {"is": "queue", "queue": {"name": spec.name, "durable": True, "exclusive": False,
                                               "autoDelete": False, "vhost": "/"},
                     "bindingVersion": AMQP_BINDING_VERSION}}


def _consumer_of_queue(queue: str, federation: Federation) -> catalogue.Consumer | None:
    for consumer in catalogue.CONSUMERS:
        if queue in consumer.queues(federation):
            return consumer
    return None


def build(federation: Federation | None = None) -> dict[str, Any]:
    federation = federation or load_federation(DEFAULT_FEDERATION_FILE)
    topology: Topology = federation_topology(federation)
    wire_ids = {wire: _id(wire) for wire in catalogue.SCHEMA_OF}

    quarantine_exchanges = {names.QUARANTINE}
    retry_exchanges = {names.DEAD_LETTER, names.RETRY, *(names.delay_exchange(s) for s in names.RETRY_DELAYS_SECONDS)}

    exchange_wires: dict[str, set[str]] = {}
    for producer in catalogue.PRODUCERS:
        for exchange in producer.exchanges(federation):
            exchange_wires.setdefault(exchange, set()).add(producer.wire_type)
    for binding in topology.bindings:  # exchange-to-exchange: what flows on carries on
        if binding.destination_is_exchange:
            exchange_wires.setdefault(binding.destination, set()).update(exchange_wires.get(binding.source, set()))

    queue_wires: dict[str, set[str]] = {}
    for queue in topology.queues:
        consumer = _consumer_of_queue(queue.name, federation)
        if consumer is not None:
            queue_wires[queue.name] = set(consumer.wire_types)
    for queue in topology.queues:
        if queue.name.endswith(".dlq"):
            queue_wires[queue.name] = set(queue_wires.get(queue.name.removesuffix(".dlq"), set()))

    def refs(wires: set[str], extra: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        out = {wire_ids[w]: {"$ref": f"#/components/messages/{wire_ids[w]}"} for w in sorted(wires)}
        for name in extra:
            out[_id(name)] = {"$ref": f"#/components/messages/{_id(name)}"}
        return out

    channels: dict[str, Any] = {}
    for spec in topology.exchanges:
        if spec.name in quarantine_exchanges:
            wires, extra, what = set(), [QUARANTINED], "Messages consumers could not read, keyed <platform>.<service>."
        elif spec.name in retry_exchanges:
            wires, extra, what = set(), ["pcms.retried"], "Copies of messages whose handler failed (retry and parking)."
        else:
            wires, extra = exchange_wires.get(spec.name, set()), []
            what = f"{spec.type} exchange."
        channels[_channel_id("exchange", spec.name)] = {
            "address": spec.name,
            "title": f"exchange {spec.name}",
            "description": what,
            "messages": refs(wires, extra),
            "bindings": _exchange_binding(spec),
        }
    for spec in topology.queues:
        bindings = [b for b in topology.bindings if b.destination == spec.name and not b.destination_is_exchange]
        consumer = _consumer_of_queue(spec.name, federation)
        if spec.name.startswith("quarantine."):
            wires, extra = set(), [QUARANTINED]
        elif spec.name.endswith(".dlq") or spec.delay_seconds is not None:
            wires, extra = queue_wires.get(spec.name, set()), ["pcms.retried"]
        else:
            wires, extra = queue_wires.get(spec.name, set()), []
        description = (f"Read by {consumer.service} at {consumer.runs_at}: {consumer.description}." if consumer
                       else "Parking lot or delay queue: read by operators (`pcms dlq ...`) or the broker.")
        channels[_channel_id("queue", spec.name)] = {
            "address": spec.name,
            "title": f"queue {spec.name}",
            "description": description + " Bound: " + "; ".join(
                f"{b.source} with key {b.routing_key!r}" for b in bindings) + ".",
            "messages": refs(wires, extra),
            "bindings": _queue_binding(spec),
            "x-pcms-bindings": [{"exchange": b.source, "routingKey": b.routing_key} for b in bindings],
            "x-pcms-queue-arguments": queue_arguments(spec),
        }

    operations: dict[str, Any] = {}
    for producer in catalogue.PRODUCERS:
        for code in catalogue.platforms_of(producer.scope, federation):
            exchange = producer.exchange.replace("{platform}", code)
            channel = _channel_id("exchange", exchange)
            if channel not in channels:
                continue
            key = producer.routing_key
            operations[_id(f"{producer.service}-{code}-sends-{producer.wire_type}-to-{exchange}")] = {
                "action": "send",
                "title": f"{producer.service} at {code} sends {producer.wire_type}",
                "summary": producer.description,
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{wire_ids[producer.wire_type]}"}],
                "bindings": {"amqp": {"cc": [key], "deliveryMode": 2, "mandatory": True,
                                      "bindingVersion": AMQP_BINDING_VERSION}},
            }
    for consumer in catalogue.CONSUMERS:
        for queue in consumer.queues(federation):
            channel = _channel_id("queue", queue)
            if channel not in channels:
                continue
            runs = consumer.runs_on(queue, federation)
            operations[_id(f"{consumer.service}-{runs}-receives-from-{queue}")] = {
                "action": "receive",
                "title": f"{consumer.service} at {runs} reads {queue}",
                "summary": consumer.description,
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{wire_ids[w]}"} for w in consumer.wire_types],
                "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
            }
    quarantine_channel = _channel_id("exchange", names.QUARANTINE)
    if quarantine_channel in channels:
        operations["runtime-quarantines"] = {
            "action": "send",
            "title": "any consumer quarantines what it cannot read",
            "summary": "Routing key <platform>.<service>; a `quarantined` hop goes to the audit as well.",
            "channel": {"$ref": f"#/channels/{quarantine_channel}"},
            "messages": [{"$ref": f"#/channels/{quarantine_channel}/messages/{_id(QUARANTINED)}"}],
            "bindings": {"amqp": {"cc": [names.quarantine_key("{platform}", "{service}")], "deliveryMode": 2,
                                  "mandatory": True, "bindingVersion": AMQP_BINDING_VERSION}},
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "PCMS Exchange",
            "version": SCHEMA_VERSION,
            "description": (
                "Event-driven information exchange of the G5 Sahel Security Cooperation Platform: national platforms "
                f"({', '.join(p.code for p in federation.members)}) and the regional hub ({federation.hub.code}) over "
                "RabbitMQ. Generated by `make contracts` from shared/messaging/topology.py for deploy/federation.yaml, "
                "shared/contracts/catalogue.py and the contracts; do not edit. info.version is the contract version "
                "(SCHEMA_VERSION): consumers accept every minor of their major."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The federation's RabbitMQ (AMQP_URL); in the field each state runs its own broker and a "
                               "shovel carries hub.ingress.<P> to the hub.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": _messages(), "schemas": _components_schemas()},
    }


def render(document: dict[str, Any]) -> str:
    return "# Generated by `make contracts` (python -m shared.contracts.asyncapi); do not edit.\n" + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts.asyncapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is out of date")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if not args.output.exists() or args.output.read_text(encoding="utf-8") != text:
            print(f"{args.output} is out of date; run `make contracts`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not args.output.exists() or args.output.read_text(encoding="utf-8") != text:
        args.output.write_text(text, encoding="utf-8")
        print(f"updated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
