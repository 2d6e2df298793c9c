"""Consumer-driven contract tests: every producer is verified against what its consumers declare they read.

The producers are the real handlers (intake, enrichment, routing, the hub audit's checkpoints) run
with the in-memory fakes over the real topology (tests/contract/pipeline.py); the consumers'
expectations are tests/contract/expectations/<consumer>.json. A producer that stops sending a field a
consumer reads, sends it with another type, or sends a message its consumer cannot parse, fails here
- naming the consumer - before any state deploys it.
"""

import ast
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts import registry
from shared.contracts.catalogue import CONSUMERS, PRODUCERS, consumers_of
from shared.messaging.outgoing import OutgoingMessage
from tests.contract import pacts
from tests.contract.pipeline import Delivery, InMemoryFederation, Travelled, origin_of, run_scenario
from tests.federations import federation_with

pytestmark = pytest.mark.contract

# one withdrawn member, so refusals travel too
FEDERATION = federation_with(BF="withdrawn")
EXPECTATIONS = pacts.expectations()
SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.fixture(scope="module")
def federation_run() -> InMemoryFederation:
    return asyncio.run(run_scenario(FEDERATION))


def _deliveries(run: InMemoryFederation, consumer: str, expectation: dict[str, Any]) -> list[Delivery]:
    return [d for d in run.deliveries
            if d.consumer.service == consumer and d.travelled.message.type == expectation["wire_type"]
            and pacts.matches(json.loads(d.travelled.message.body), expectation.get("match", {}))]


def _platform_of_queue(queue: str) -> str | None:
    return next((p.code for p in FEDERATION.active_platforms if f".{p.code}." in f".{queue}."), None)


def test_every_consumer_of_the_catalogue_states_its_expectations() -> None:
    declared = {(d["consumer"], e["wire_type"]) for _, d, e in EXPECTATIONS}
    wanted = {(c.service, wire) for c in CONSUMERS for wire in c.wire_types}
    assert wanted - declared == set(), "consumers without expectations in tests/contract/expectations/"
    assert declared - wanted == set(), "expectations of a wire type the catalogue does not give that consumer"


@pytest.mark.parametrize(("name", "declared", "expectation"), EXPECTATIONS, ids=[e[0] for e in EXPECTATIONS])
def test_the_producers_send_what_the_consumer_reads(
    federation_run: InMemoryFederation, name: str, declared: dict[str, Any], expectation: dict[str, Any]
) -> None:
    deliveries = _deliveries(federation_run, declared["consumer"], expectation)
    assert deliveries, f"{name}: no producer sent {expectation['wire_type']} matching {expectation.get('match')}"
    producers = set(expectation["producer"].split("|"))
    bodies = []
    for delivery in deliveries:
        sent = delivery.travelled.message
        assert delivery.travelled.producer in producers, (
            f"{name}: {sent.type} came from {delivery.travelled.producer}, not from {expectation['producer']}")
        registry.parse(sent.type, sent.body, sent.headers)  # the consumer's parser accepts it
        body = json.loads(sent.body)
        bodies.append(body)
        broken = pacts.problems(body, expectation["reads"])
        assert not broken, (
            f"{delivery.travelled.producer} sends {sent.type} that {declared['consumer']} cannot rely on "
            f"(queue {delivery.queue}): {broken}")
    for path in expectation["reads"]:
        if "[]" in path:
            assert pacts.exercised(bodies, path), f"{name}: no message exercised {path}; extend the scenario"
    if expectation.get("every_platform", declared.get("every_platform")):
        reached = {_platform_of_queue(d.queue) for d in deliveries}
        queues_of_consumer = {q for c in consumers_of(expectation["wire_type"]) if c.service == declared["consumer"]
                              for q in c.queues(FEDERATION)}
        platforms = {_platform_of_queue(q) for q in queues_of_consumer}
        assert platforms <= reached, f"{name}: nothing reached the queues of {sorted(platforms - reached)}"


@pytest.mark.parametrize(("name", "declared", "expectation"), EXPECTATIONS, ids=[e[0] for e in EXPECTATIONS])
def test_the_consumers_example_parses_and_has_what_it_reads(
    name: str, declared: dict[str, Any], expectation: dict[str, Any]
) -> None:
    example = expectation["example"]
    registry.parse(expectation["wire_type"], json.dumps(example).encode())
    assert pacts.matches(example, expectation.get("match", {}))
    assert pacts.problems(example, expectation["reads"]) == []


@pytest.mark.parametrize(("name", "declared", "expectation"), EXPECTATIONS, ids=[e[0] for e in EXPECTATIONS])
async def test_the_consumer_handles_its_example(name: str, declared: dict[str, Any], expectation: dict[str, Any]) -> None:
    """The consumer's real handler, with the fakes, takes its own example without an error."""
    run = InMemoryFederation(FEDERATION)
    consumer = next(c for c in consumers_of(expectation["wire_type"]) if c.service == declared["consumer"])
    example = expectation["example"]
    queue = next(q for q in consumer.queues(FEDERATION) if f".{origin_of(example) or ''}." in f".{q}.") \
        if consumer.service == "enrichment" else consumer.queues(FEDERATION)[0]
    sent = OutgoingMessage(exchange="", routing_key="", body=json.dumps(example).encode(),
                           type=expectation["wire_type"], message_id="example")
    delivery = Delivery(queue, consumer, consumer.runs_on(queue, FEDERATION), Travelled("example", "", sent, (queue,)))
    await run._consume(delivery)
    assert run.rejected == []


def test_every_message_sent_is_declared_in_the_catalogue_and_lands_in_a_queue(federation_run: InMemoryFederation) -> None:
    undeclared = sorted({(t.producer, t.message.type, t.message.exchange, t.message.routing_key)
                         for t in federation_run.travelled
                         if not any(p.service == t.producer and p.wire_type == t.message.type
                                    and p.matches(t.message.exchange, t.message.routing_key, FEDERATION)
                                    for p in PRODUCERS)})
    assert undeclared == [], "producers missing from shared/contracts/catalogue.py PRODUCERS"
    unrouted = sorted({(t.producer, t.message.type, t.message.exchange, t.message.routing_key)
                       for t in federation_run.travelled if not t.queues})
    assert unrouted == [], "messages the topology routes to no queue (a mandatory publish would fail)"


def test_every_wire_type_travels(federation_run: InMemoryFederation) -> None:
    assert {t.message.type for t in federation_run.travelled} == set(registry.WIRE_TYPES)


def _subscriptions_in(bootstrap: Path) -> set[tuple[str, str]]:
    """(names.py attribute of the queue, wire type constant) of every Subscription(...) in a bootstrap."""
    found = set()
    for node in ast.walk(ast.parse(bootstrap.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Subscription" and len(node.args) >= 2:
            queue, handlers = node.args[0], node.args[1]
            queue_name = (queue.func.attr if isinstance(queue, ast.Call) and isinstance(queue.func, ast.Attribute)
                          else queue.attr if isinstance(queue, ast.Attribute) else ast.unparse(queue))
            if isinstance(handlers, ast.Dict):
                for key in handlers.keys:
                    if isinstance(key, ast.Name):
                        found.add((queue_name, getattr(registry, key.id)))
    return found


def test_the_catalogue_consumers_are_the_bootstraps_subscriptions() -> None:
    in_code = set()
    for bootstrap in sorted(SERVICES.glob("*/bootstrap.py")):
        in_code |= {(bootstrap.parent.name, queue, wire) for queue, wire in _subscriptions_in(bootstrap)}
    # the runtime reads a batch on every queue whose handlers take a joinable type (shared/messaging/runtime.py)
    in_code |= {(service, queue, registry.BATCH_RELAYED) for service, queue, wire in in_code if wire in registry.JOINABLE}
    declared = {(c.service, c.queue[0], wire) for c in CONSUMERS for wire in c.wire_types}
    assert in_code == declared, (
        f"shared/contracts/catalogue.py CONSUMERS differ from the services' Subscriptions: "
        f"only in code {sorted(in_code - declared)}, only in the catalogue {sorted(declared - in_code)}")
