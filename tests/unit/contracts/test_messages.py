"""Messages: what officers submit, what platforms publish, and how the wire names parse back."""

from datetime import UTC, datetime
from typing import Any
from uuid import RFC_4122, UUID, uuid5

import pytest
from pydantic import ValidationError

from shared.contracts.base import SCHEMA_VERSION
from shared.contracts.bodies import AcknowledgementState
from shared.contracts.events import (
    Enrichment,
    Hop,
    HopRecorded,
    MessageDispatched,
    MessageEnriched,
    RefusedRecipient,
    RoutingDecided,
)
from shared.contracts.identity import derived_id, event_id, hop_event_id
from shared.contracts.messages import (
    SUBMIT_ADAPTER,
    AlertIssued,
    MessageAcknowledged,
    ReportFiled,
    RfiAnswered,
    RfiRaised,
    SubmitAcknowledgement,
    SubmitAlert,
    SubmitReport,
    SubmitRfi,
    SubmitRfiResponse,
    stamp,
)
from shared.contracts.registry import (
    HOP_RECORDED,
    MESSAGE,
    MESSAGE_DISPATCHED,
    MESSAGE_ENRICHED,
    ROUTING_DECIDED,
    UnknownWireType,
    parse,
    wire_name,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
MESSAGE_ID = UUID("00000000-0000-4000-8000-000000000001")
ANSWERED_ID = UUID("00000000-0000-4000-8000-000000000002")
CORRELATION_ID = UUID("00000000-0000-4000-8000-0000000000cc")
EVALUATION = {"source": "B", "information": "2"}

SUBMISSIONS: dict[str, dict[str, Any]] = {
    "alert": {"kind": "alert", "submitted_by": "police", "evaluation": EVALUATION,
              "body": {"alert_type": "wanted_person", "summary": "Wanted for armed robbery."}},
    "report": {"kind": "report", "submitted_by": "gendarmerie", "evaluation": EVALUATION,
               "body": {"crime_category": "smuggling", "summary": "Fuel smuggling at Assamaka."}},
    "rfi": {"kind": "rfi", "submitted_by": "police", "recipients": ["ML", "NE"],
            "body": {"question": "Is this vehicle known to you?"}},
    "rfi_response": {"kind": "rfi_response", "submitted_by": "police", "in_reply_to": str(ANSWERED_ID),
                     "recipients": ["NE"], "body": {"answer": "Not known to our services."}},
    "acknowledgement": {"kind": "acknowledgement", "submitted_by": "platform_system",
                        "in_reply_to": str(ANSWERED_ID), "recipients": ["NE"], "body": {"state": "read"}},
}
COMMAND_TYPES = {"alert": SubmitAlert, "report": SubmitReport, "rfi": SubmitRfi,
                 "rfi_response": SubmitRfiResponse, "acknowledgement": SubmitAcknowledgement}
EVENT_TYPES = {"alert": AlertIssued, "report": ReportFiled, "rfi": RfiRaised,
               "rfi_response": RfiAnswered, "acknowledgement": MessageAcknowledged}


def submission(kind: str = "alert", **changes: Any) -> dict[str, Any]:
    return SUBMISSIONS[kind] | changes


def with_body(kind: str, **body_changes: Any) -> dict[str, Any]:
    data = submission(kind)
    return data | {"body": data["body"] | body_changes}


def person(**changes: Any) -> dict[str, Any]:
    return {"names": ["Mohamed Ould Ahmed"]} | changes


def alert_about(*persons: dict[str, Any]) -> dict[str, Any]:
    return with_body("alert", entities={"persons": list(persons)})


def rejection(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as error:
        SUBMIT_ADAPTER.validate_python(data)
    return str(error.value)


def published(kind: str = "alert", **changes: Any) -> Any:
    command = SUBMIT_ADAPTER.validate_python(submission(kind, **changes))
    return stamp(command, message_id=MESSAGE_ID, origin="NE", created_at=NOW)


@pytest.mark.parametrize("kind", sorted(SUBMISSIONS))
def test_a_submission_parses_into_the_command_of_its_kind(kind: str) -> None:
    command = SUBMIT_ADAPTER.validate_python(submission(kind))
    assert type(command) is COMMAND_TYPES[kind]
    assert command.kind == kind


def test_a_submission_defaults_to_all_recipients_h0_routine_french() -> None:
    command = SUBMIT_ADAPTER.validate_python(submission("alert"))
    assert command.recipients == ["ALL"]
    assert (command.handling_code, command.priority, command.language) == ("H0", "routine", "fr")


def test_a_submission_of_an_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        SUBMIT_ADAPTER.validate_python(SUBMISSIONS["alert"] | {"kind": "gossip"})
    assert error.value.errors()[0]["type"] == "union_tag_invalid"


def test_h3_without_a_handling_note_is_rejected() -> None:
    assert "handling_note is required" in rejection(submission("alert", handling_code="H3"))


def test_h3_with_a_handling_note_is_accepted() -> None:
    command = SUBMIT_ADAPTER.validate_python(
        submission("alert", handling_code="H3", handling_note="Not to be shared with customs."))
    assert command.handling_note == "Not to be shared with customs."


@pytest.mark.parametrize("alone", ["ALL", "HUB"])
def test_all_or_hub_together_with_other_recipients_is_rejected(alone: str) -> None:
    assert "stand alone" in rejection(submission("rfi", recipients=[alone, "ML"]))


def test_repeated_recipients_are_rejected() -> None:
    assert "must not repeat" in rejection(submission("rfi", recipients=["ML", "NE", "ML"]))


def test_a_lowercase_recipient_is_rejected() -> None:
    assert "recipients.0" in rejection(submission("rfi", recipients=["ml"]))


def test_an_empty_recipient_list_is_rejected() -> None:
    assert "recipients" in rejection(submission("rfi", recipients=[]))


@pytest.mark.parametrize("kind", ["alert", "report"])
def test_alert_or_report_without_evaluation_is_rejected(kind: str) -> None:
    data = submission(kind)
    del data["evaluation"]
    assert f"evaluation is required for {kind}" in rejection(data)


@pytest.mark.parametrize("kind", ["rfi", "rfi_response", "acknowledgement"])
def test_other_kinds_need_no_evaluation(kind: str) -> None:
    assert SUBMIT_ADAPTER.validate_python(submission(kind)).evaluation is None


@pytest.mark.parametrize("kind", ["rfi_response", "acknowledgement"])
def test_a_reply_without_in_reply_to_is_rejected(kind: str) -> None:
    data = submission(kind)
    del data["in_reply_to"]
    assert f"in_reply_to is required for {kind}" in rejection(data)


def test_a_refused_acknowledgement_without_reason_is_rejected() -> None:
    assert "needs a reason" in rejection(with_body("acknowledgement", state="refused"))


def test_a_refused_acknowledgement_with_a_reason_is_accepted() -> None:
    command = SUBMIT_ADAPTER.validate_python(with_body("acknowledgement", state="refused", reason="Out of mandate."))
    assert command.body.state is AcknowledgementState.REFUSED
    assert command.body.reason == "Out of mandate."


def test_an_extra_field_is_rejected() -> None:
    assert "extra_forbidden" in rejection(submission("alert", urgency="high"))


def test_an_extra_field_in_the_body_is_rejected() -> None:
    assert "extra_forbidden" in rejection(with_body("alert", colour="red"))


def test_an_extra_field_in_a_nested_entity_is_rejected() -> None:
    assert "extra_forbidden" in rejection(alert_about(person(shoe_size=44)))


@pytest.mark.parametrize("birth_date", ["1985", "1985-03", "1985-03-12"])
def test_a_partial_birth_date_is_accepted(birth_date: str) -> None:
    command = SUBMIT_ADAPTER.validate_python(alert_about(person(birth_date=birth_date)))
    assert command.body.entities.persons[0].birth_date == birth_date


@pytest.mark.parametrize("birth_date", ["1985-13", "1985-00", "1985-03-32", "85", "1985/03/12", "12-03-1985"])
def test_a_malformed_birth_date_is_rejected(birth_date: str) -> None:
    assert "birth_date" in rejection(alert_about(person(birth_date=birth_date)))


def test_arabic_script_names_are_accepted() -> None:
    names = ["محمد ولد أحمد", "Mohamed Ould Ahmed"]
    command = SUBMIT_ADAPTER.validate_python(alert_about(person(names=names, aliases=["أبو خالد"])))
    assert command.body.entities.persons[0].names == names
    assert command.body.entities.persons[0].aliases == ["أبو خالد"]


def test_a_person_without_any_name_is_rejected() -> None:
    assert "names" in rejection(alert_about(person(names=[])))


def test_surrounding_whitespace_in_text_is_stripped() -> None:
    command = SUBMIT_ADAPTER.validate_python(with_body("alert", summary="  Wanted.  "))
    assert command.body.summary == "Wanted."


def test_a_submission_is_immutable() -> None:
    command = SUBMIT_ADAPTER.validate_python(submission("alert"))
    with pytest.raises(ValidationError):
        command.priority = "urgent"


@pytest.mark.parametrize("kind", sorted(SUBMISSIONS))
def test_stamp_publishes_the_event_of_the_command_kind_with_the_platform_stamp(kind: str) -> None:
    message = published(kind)
    assert type(message) is EVENT_TYPES[kind]
    assert (message.message_id, message.origin, message.created_at) == (MESSAGE_ID, "NE", NOW)
    assert message.schema_version == SCHEMA_VERSION
    assert message.body == SUBMIT_ADAPTER.validate_python(submission(kind)).body


def test_stamp_defaults_the_correlation_id_to_the_message_id() -> None:
    assert published("alert").correlation_id == MESSAGE_ID


def test_stamp_keeps_the_correlation_id_of_the_command() -> None:
    assert published("rfi_response", correlation_id=str(CORRELATION_ID)).correlation_id == CORRELATION_ID


def test_stamp_rejects_an_origin_that_is_not_a_platform_code() -> None:
    command = SUBMIT_ADAPTER.validate_python(submission("alert"))
    with pytest.raises(ValidationError):
        stamp(command, message_id=MESSAGE_ID, origin="niger", created_at=NOW)


def _events() -> dict[str, Any]:
    message = published("alert")
    return {
        MESSAGE: message,
        MESSAGE_ENRICHED: MessageEnriched(message=message, enrichment=Enrichment(), enriched_at=NOW),
        MESSAGE_DISPATCHED: MessageDispatched(message=message, recipient="ML", rule="alert-to-all-active-members",
                                              dispatched_at=NOW),
        ROUTING_DECIDED: RoutingDecided(message_id=MESSAGE_ID, correlation_id=MESSAGE_ID, origin="NE",
                                        recipients=["ML", "HUB"], refused=[RefusedRecipient(platform="BF",
                                                                                           reason="member is withdrawn")],
                                        rule="alert-to-all-active-members", decided_at=NOW),
        HOP_RECORDED: HopRecorded(event_id=hop_event_id(MESSAGE_ID, Hop.ACCEPTED, "NE"), message_id=MESSAGE_ID,
                                  hop=Hop.ACCEPTED, platform="NE", service="intake", at=NOW,
                                  detail={"recipients": ["ALL"], "count": 1}),
    }


@pytest.mark.parametrize("wire_type", sorted(_events()))
def test_registry_parse_round_trips_every_wire_type(wire_type: str) -> None:
    model = _events()[wire_type]
    assert wire_name(model) == wire_type
    assert parse(wire_type, model.model_dump_json().encode()) == model


@pytest.mark.parametrize("kind", sorted(SUBMISSIONS))
def test_registry_parse_gives_the_event_type_of_each_message_kind(kind: str) -> None:
    message = published(kind)
    assert type(parse(MESSAGE, message.model_dump_json().encode())) is EVENT_TYPES[kind]


@pytest.mark.parametrize("wire_type", ["pcms.gossip", "", None])
def test_registry_parse_raises_unknown_wire_type_for_an_unknown_type(wire_type: str | None) -> None:
    with pytest.raises(UnknownWireType):
        parse(wire_type, b"{}")


def test_registry_parse_raises_a_validation_error_for_a_bad_body() -> None:
    with pytest.raises(ValidationError):
        parse(MESSAGE, b'{"kind": "alert"}')


def test_event_id_is_deterministic_and_distinct_per_contract() -> None:
    first, second = _events(), _events()
    ids = {wire_type: event_id(model) for wire_type, model in first.items()}
    assert ids == {wire_type: event_id(model) for wire_type, model in second.items()}
    assert ids[MESSAGE] == MESSAGE_ID
    assert ids[MESSAGE_ENRICHED] == derived_id(MESSAGE_ID, "enriched")
    assert ids[MESSAGE_DISPATCHED] == derived_id(MESSAGE_ID, "dispatched:ML")
    assert ids[ROUTING_DECIDED] == derived_id(MESSAGE_ID, "routing-decided")
    assert ids[HOP_RECORDED] == first[HOP_RECORDED].event_id
    assert len(set(ids.values())) == len(ids)


def test_each_recipient_copy_travels_under_its_own_event_id() -> None:
    message = published("alert")
    copies = [MessageDispatched(message=message, recipient=code, rule="r", dispatched_at=NOW) for code in ("ML", "MR")]
    assert event_id(copies[0]) != event_id(copies[1])


@pytest.mark.parametrize("what", ["enriched", "dispatched:ML", "hop:routed:HUB:", "read:MR:analyste-é:2026", ""])
@pytest.mark.parametrize("namespace", [UUID("00000000-0000-0000-0000-000000000000"),
                                       UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"), UUID(int=0x5EED)])
def test_a_derived_id_is_the_rfc_4122_name_based_uuid_of_the_message_and_the_name(namespace: UUID, what: str) -> None:
    """Ids derived before this implementation was faster must stay the same ids: stores hold them."""
    derived = derived_id(namespace, what)
    assert derived == uuid5(namespace, what)
    assert derived.version == 5 and derived.variant == RFC_4122


def test_hop_event_id_is_deterministic_and_depends_on_every_part() -> None:
    base = hop_event_id(MESSAGE_ID, "acknowledged", "ML", "read")
    assert base == hop_event_id(MESSAGE_ID, "acknowledged", "ML", "read")
    assert len({base, hop_event_id(MESSAGE_ID, "acknowledged", "ML", "actioned"),
                hop_event_id(MESSAGE_ID, "acknowledged", "MR", "read"),
                hop_event_id(MESSAGE_ID, "delivered", "ML", "read"),
                hop_event_id(ANSWERED_ID, "acknowledged", "ML", "read")}) == 5
