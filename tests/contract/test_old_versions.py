"""Messages of every released version still read and route: states upgrade one at a time.

tests/contract/fixtures/<version>/ holds messages as that version's producers sent them; they are
frozen with the release and never regenerated. 1.9 is synthetic (a future minor, not released): an alert, an
enriched message and a hop with fields a later minor would add, to show a 1.0 consumer ignores them.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts import registry, versioning
from shared.contracts.catalogue import SCHEMA_OF, consumers_of
from shared.contracts.versioning import CURRENT, VERSION_HEADER, IncompatibleVersion, Version, load_schemas, releases
from shared.messaging.outgoing import OutgoingMessage, outgoing
from services.routing.domain.decisions import Original, decide
from shared.policy import load_policy
from tests.contract.pipeline import Delivery, InMemoryFederation, Travelled, origin_of
from tests.federations import federation_with

pytestmark = pytest.mark.contract

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROUTING_FEDERATION = federation_with()


def _fixtures() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path.parent.name}/{path.stem}", json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(FIXTURES.glob("*/*.json"))]


FIXTURE_CASES = _fixtures()
IDS = [name for name, _ in FIXTURE_CASES]


def _parse(fixture: dict[str, Any], body: dict[str, Any] | None = None) -> Any:
    return registry.parse(fixture["wire_type"], json.dumps(body or fixture["body"]).encode(), fixture["headers"])


def test_every_release_has_fixtures_of_every_wire_type_it_released() -> None:
    for version, folder in releases().items():
        released = {stem for stem in (p.removesuffix(".json") for p in load_schemas(folder))}
        wires = {wire for wire, stem in SCHEMA_OF.items() if stem in released}
        present = {fixture["wire_type"] for name, fixture in FIXTURE_CASES if name.startswith(f"{version}/")}
        assert wires <= present, f"release {version} has no fixtures of {sorted(wires - present)} in {FIXTURES / str(version)}"
        kinds = {fixture["body"]["kind"] for name, fixture in FIXTURE_CASES
                 if name.startswith(f"{version}/") and fixture["wire_type"] == registry.MESSAGE}
        assert kinds == {"alert", "report", "rfi", "rfi_response", "acknowledgement"}, kinds


@pytest.mark.parametrize(("name", "fixture"), FIXTURE_CASES, ids=IDS)
def test_the_current_consumers_parse_messages_of_every_version_of_their_major(name: str, fixture: dict[str, Any]) -> None:
    version = Version.parse(name.split("/")[0])
    assert version.major == CURRENT.major
    model = _parse(fixture)
    assert registry.wire_name(model) == fixture["wire_type"]


@pytest.mark.parametrize(("name", "fixture"), [c for c in FIXTURE_CASES if "routing" in c[1]],
                         ids=[n for n, f in FIXTURE_CASES if "routing" in f])
def test_messages_of_every_version_route_as_they_did(name: str, fixture: dict[str, Any]) -> None:
    model = _parse(fixture)
    message = model if fixture["wire_type"] == registry.MESSAGE else model.message
    expected = fixture["routing"]
    answered = expected["answered_origin"]
    original = Original(message.in_reply_to, answered, ()) if answered and message.in_reply_to else None
    decision = decide(message, federation=ROUTING_FEDERATION, policy=load_policy(), original=original)
    assert (decision.rule, decision.recipients, [list(r) for r in decision.refused]) == (
        expected["rule"], expected["recipients"], expected["refused"])


@pytest.mark.parametrize(("name", "fixture"), FIXTURE_CASES, ids=IDS)
async def test_the_consumers_handle_messages_of_every_version(name: str, fixture: dict[str, Any]) -> None:
    run = InMemoryFederation(ROUTING_FEDERATION)
    body = fixture["body"]
    batch = fixture["wire_type"] == registry.BATCH_RELAYED  # read by the consumers of its items' type
    for consumer in consumers_of(body["item_type"] if batch else fixture["wire_type"]):
        queues = consumer.queues(ROUTING_FEDERATION)
        origin = origin_of(body)
        queue = next((q for q in queues if origin and f".{origin}." in f".{q}."), queues[0])
        sent = OutgoingMessage(exchange="", routing_key="", body=json.dumps(fixture["body"]).encode(),
                               type=fixture["wire_type"], message_id="fixture", headers=fixture["headers"])
        await run._consume(Delivery(queue, consumer, consumer.runs_on(queue, ROUTING_FEDERATION),
                                    Travelled("fixture", "", sent, (queue,))))
    assert run.rejected == []


def test_a_newer_minor_keeps_what_the_consumer_knows_and_drops_what_it_does_not() -> None:
    fixture = dict(FIXTURE_CASES)["1.9/message_alert"]
    model = _parse(fixture)
    assert model.schema_version == "1.9"
    assert model.body.entities.persons[0].names[0] == fixture["body"]["body"]["entities"]["persons"][0]["names"][0]
    dumped = json.loads(model.model_dump_json())
    assert "reporting_unit" not in dumped and "threat_level" not in dumped["body"]


def test_unknown_fields_are_refused_when_the_message_claims_the_consumers_own_minor() -> None:
    """Ignoring unknown fields is for newer minors only: a 1.0 message with them breaks the 1.0 contract."""
    fixture = dict(FIXTURE_CASES)["1.9/message_alert"]
    body = fixture["body"] | {"schema_version": "1.0"}
    with pytest.raises(ValidationError) as refused:
        registry.parse(registry.MESSAGE, json.dumps(body).encode(), {})
    assert {e["type"] for e in refused.value.errors()} == {"extra_forbidden"}
    hop = dict(FIXTURE_CASES)["1.9/hop_recorded"]
    with pytest.raises(ValidationError):
        registry.parse(hop["wire_type"], json.dumps(hop["body"]).encode(), {})  # no header: 1.0


def test_a_message_of_another_major_is_refused_with_the_reason() -> None:
    fixture = dict(FIXTURE_CASES)["1.0/message_alert"]
    with pytest.raises(IncompatibleVersion, match=r"schema_version 2\.0 is of major version 2; this consumer reads "
                                                 r"major version 1"):
        registry.parse(registry.MESSAGE, json.dumps(fixture["body"] | {"schema_version": "2.0"}).encode())
    enriched = dict(FIXTURE_CASES)["1.0/message_enriched"]
    with pytest.raises(IncompatibleVersion, match=f"header {VERSION_HEADER} 2.1"):
        registry.parse(registry.MESSAGE_ENRICHED, json.dumps(enriched["body"]).encode(), {VERSION_HEADER: b"2.1"})
    nested = json.loads(json.dumps(enriched["body"]))
    nested["message"]["schema_version"] = "0.9"
    with pytest.raises(IncompatibleVersion, match=r"message\.schema_version 0\.9"):
        registry.parse(registry.MESSAGE_ENRICHED, json.dumps(nested).encode())
    # the runtime quarantines ValueErrors with their text as the reason
    assert issubclass(IncompatibleVersion, ValueError)


def test_versions_are_judged_alike_however_often_they_come_and_a_long_text_is_not_kept() -> None:
    """The versions a message names are remembered by value: the hundredth refusal is the first one's."""
    enriched = dict(FIXTURE_CASES)["1.0/message_enriched"]
    body = json.dumps(enriched["body"]).encode()
    for _ in range(3):
        assert registry.parse(registry.MESSAGE_ENRICHED, body, {VERSION_HEADER: "1.0"})
        with pytest.raises(IncompatibleVersion, match=f"header {VERSION_HEADER} 2.1"):
            registry.parse(registry.MESSAGE_ENRICHED, body, {VERSION_HEADER: b"2.1"})
    padded = "1.0" + " " * 100
    before = versioning._newest_named.cache_info().currsize
    assert registry.parse(registry.MESSAGE_ENRICHED, body, {VERSION_HEADER: padded})
    assert versioning._newest_named.cache_info().currsize == before


CARRYING = [(name, fixture) for name, fixture in FIXTURE_CASES if isinstance(fixture["body"].get("message"), dict)]


@pytest.mark.parametrize(("name", "fixture"), CARRYING, ids=[name for name, _ in CARRYING])
def test_a_copy_written_around_its_message_already_serialized_is_the_same_bytes(name: str, fixture: dict[str, Any]) -> None:
    """The hub serializes a message once for all its copies (shared/messaging/outgoing.py): byte for byte what
    serializing each copy whole gives."""
    event = _parse(fixture)
    whole = outgoing(event, exchange="pcms.delivery", routing_key="ML.routine")
    shared = outgoing(event, exchange="pcms.delivery", routing_key="ML.routine",
                      message_json=event.message.model_dump_json())
    assert shared == whole


def test_only_a_model_whose_first_field_is_its_message_is_written_around_one() -> None:
    hop = _parse(dict(FIXTURE_CASES)["1.4/hop_recorded"])
    with pytest.raises(ValueError, match="does not carry a message"):
        outgoing(hop, exchange="pcms.audit", routing_key="hop.routed", message_json="{}")
