"""The published documents are generated from the code and up to date: AsyncAPI for the broker, OpenAPI for HTTP."""

import json
from typing import Any

import pytest
import yaml

from shared.contracts import asyncapi, openapi, registry
from shared.contracts.catalogue import CONSUMERS
from shared.federation import DEFAULT_FEDERATION_FILE, load_federation
from shared.messaging.topology import federation_topology

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi.build()


def test_the_committed_asyncapi_document_is_up_to_date(document: dict[str, Any]) -> None:
    committed = asyncapi.DEFAULT_OUTPUT.read_text(encoding="utf-8") if asyncapi.DEFAULT_OUTPUT.exists() else ""
    assert committed == asyncapi.render(document), f"{asyncapi.DEFAULT_OUTPUT} is out of date; run `make contracts`"


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_asyncapi_document_is_well_formed(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert yaml.safe_load(asyncapi.render(document)) == document
    for ref in _refs(document):
        _resolve(document, ref)
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), operation_id
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:  # an operation's messages are its channel's
            assert message["$ref"].startswith(channel_ref + "/messages/"), operation_id
    for identifier in [*document["channels"], *document["operations"], *document["components"]["messages"]]:
        assert identifier.replace("_", "").replace("-", "").isalnum(), identifier


def test_the_asyncapi_document_has_every_exchange_queue_binding_and_message(document: dict[str, Any]) -> None:
    federation = load_federation(DEFAULT_FEDERATION_FILE)
    topology = federation_topology(federation)
    addresses = {channel["address"]: channel for channel in document["channels"].values()}
    assert {e.name for e in topology.exchanges} | {q.name for q in topology.queues} == set(addresses)
    for binding in topology.bindings:
        if not binding.destination_is_exchange:
            assert {"exchange": binding.source, "routingKey": binding.routing_key} in \
                addresses[binding.destination]["x-pcms-bindings"]
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert set(registry.WIRE_TYPES) <= names
    for wire in registry.WIRE_TYPES:
        message = document["components"]["messages"][asyncapi._id(wire)]
        schema = _resolve(document, message["payload"]["$ref"])
        assert schema.get("properties") or schema.get("oneOf"), wire
    for consumer in CONSUMERS:  # every consumer reads its queues, with the wire types it subscribes to
        for queue in consumer.queues(federation):
            channel = addresses[queue]
            assert {asyncapi._id(w) for w in consumer.wire_types} <= set(channel["messages"]), queue


def test_the_committed_openapi_documents_are_up_to_date() -> None:
    assert openapi.differences() == [], "docs/openapi is out of date; run `make contracts`"


def test_every_http_service_has_an_openapi_document_with_its_routes() -> None:
    services = openapi.services_with_api()
    assert {"intake", "audit"} <= set(services)
    for service in services:
        doc = json.loads((openapi.DEFAULT_OUTPUT / f"{service}.json").read_text(encoding="utf-8"))
        routes = {route.path for route in openapi.build_app(service).routes if hasattr(route, "methods")}
        documented = set(doc["paths"]) | {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
        assert routes <= documented, f"{service}: {sorted(routes - documented)}"
    intake = json.loads((openapi.DEFAULT_OUTPUT / "intake.json").read_text(encoding="utf-8"))
    assert "/v1/messages" in intake["paths"] and "/healthz" in intake["paths"]


def test_the_generator_checks_everything(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.contracts import generate

    assert generate.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "schemas are up to date" in out and "asyncapi.yaml is up to date" in out and "OpenAPI documents are up to date" in out
