"""Who receives a message: one test per rule of services/routing/domain/decisions.py."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.federation import Federation
from services.routing.domain.decisions import Original, RoutingDecision, decide
from shared.policy import load_policy

POLICY = load_policy()

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
MESSAGE_ID = UUID("00000000-0000-4000-8000-000000000001")
ANSWERED_ID = UUID("00000000-0000-4000-8000-000000000002")
MEMBERS = ("MR", "ML", "BF", "NE", "TD")


def federation(**statuses: str) -> Federation:
    """The hub and the five members, all active unless a status is given (e.g. BF="withdrawn")."""
    platforms = [{"code": "HUB", "role": "hub", "name": "Regional Platform", "city": "Nouakchott", "country": "MR",
                  "status": statuses.pop("HUB", "active"), "api_port": 8000}]
    for port, code in enumerate(MEMBERS, start=8001):
        platforms.append({"code": code, "role": "member", "name": code, "city": code, "country": code,
                          "status": statuses.pop(code, "active"), "api_port": port})
    assert not statuses, f"unknown platforms {statuses}"
    return Federation.model_validate({"version": 1, "platforms": platforms})


BODIES: dict[str, dict[str, Any]] = {
    "alert": {"alert_type": "wanted_person", "summary": "Wanted."},
    "report": {"crime_category": "smuggling", "summary": "Fuel smuggling."},
    "rfi": {"question": "Known to you?"},
    "rfi_response": {"answer": "Not known."},
    "acknowledgement": {"state": "read"},
}


def message(kind: str, *, origin: str = "NE", recipients: list[str] | None = None) -> Message:
    data: dict[str, Any] = {"kind": kind, "submitted_by": "police", "body": BODIES[kind]}
    if kind in ("alert", "report"):
        data["evaluation"] = {"source": "B", "information": "2"}
    if kind in ("rfi_response", "acknowledgement"):
        data["in_reply_to"] = str(ANSWERED_ID)
    if recipients is not None:
        data["recipients"] = recipients
    return stamp(SUBMIT_ADAPTER.validate_python(data), message_id=MESSAGE_ID, origin=origin, created_at=NOW)


def routed(kind: str, *, origin: str = "NE", recipients: list[str] | None = None,
           answered_origin: str | None = None, **statuses: str) -> RoutingDecision:
    original = Original(UUID(int=99), answered_origin, ()) if answered_origin else None
    return decide(message(kind, origin=origin, recipients=recipients), federation=federation(**statuses),
                  policy=POLICY, original=original)


def test_an_alert_goes_to_every_active_member_but_the_origin_and_to_the_hub() -> None:
    decision = routed("alert")
    assert decision.rule == "alert-to-all-active-members"
    assert decision.recipients == ["MR", "ML", "BF", "TD", "HUB"]
    assert decision.refused == []


def test_an_alert_goes_to_everyone_whatever_recipients_the_officer_named() -> None:
    decision = routed("alert", recipients=["ML"])
    assert decision.rule == "alert-to-all-active-members"
    assert decision.recipients == ["MR", "ML", "BF", "TD", "HUB"]


@pytest.mark.parametrize("status", ["withdrawn", "suspended"])
def test_an_inactive_member_never_receives_an_alert(status: str) -> None:
    decision = routed("alert", BF=status)
    assert "BF" not in decision.recipients
    assert decision.recipients == ["MR", "ML", "TD", "HUB"]


def test_a_withdrawn_member_appears_in_refused_of_an_alert_with_the_reason() -> None:
    decision = routed("alert", BF="withdrawn")
    assert decision.refused == [("BF", "member is withdrawn")] and decision.held == []


def test_a_suspended_members_copy_of_an_alert_is_held_not_refused() -> None:
    decision = routed("alert", BF="suspended")
    assert decision.held == ["BF"] and decision.refused == []


def test_a_withdrawn_named_recipient_never_receives_and_is_refused_with_the_reason() -> None:
    decision = routed("rfi", recipients=["BF", "ML"], BF="withdrawn")
    assert decision.recipients == ["ML", "HUB"]
    assert decision.refused == [("BF", "member is withdrawn")]


def test_a_suspended_named_recipients_copy_is_held() -> None:
    decision = routed("rfi", recipients=["BF", "ML"], BF="suspended")
    assert (decision.recipients, decision.held, decision.refused) == (["ML", "HUB"], ["BF"], [])


@pytest.mark.parametrize("kind", ["report", "rfi"])
def test_a_report_or_rfi_to_all_goes_to_every_active_member_but_the_origin_and_to_the_hub(kind: str) -> None:
    decision = routed(kind, recipients=["ALL"], TD="withdrawn")
    assert decision.rule == f"{kind}-to-all-active-members"
    assert decision.recipients == ["MR", "ML", "BF", "HUB"]
    assert decision.refused == [("TD", "member is withdrawn")]


@pytest.mark.parametrize("kind", ["report", "rfi"])
def test_a_report_or_rfi_to_the_hub_goes_to_the_hub_only(kind: str) -> None:
    decision = routed(kind, recipients=["HUB"])
    assert decision.rule == f"{kind}-to-hub"
    assert decision.recipients == ["HUB"]
    assert decision.refused == []


@pytest.mark.parametrize("kind", ["report", "rfi"])
def test_a_report_or_rfi_to_named_recipients_goes_to_them_and_to_the_hub(kind: str) -> None:
    decision = routed(kind, recipients=["TD", "ML"])
    assert decision.rule == f"{kind}-to-named-recipients"
    assert decision.recipients == ["TD", "ML", "HUB"]
    assert decision.refused == []


def test_an_unknown_named_platform_is_refused() -> None:
    decision = routed("rfi", recipients=["ML", "SN"])
    assert decision.recipients == ["ML", "HUB"]
    assert decision.refused == [("SN", "not a platform of the federation")]


def test_an_rfi_response_goes_to_the_origin_of_the_answered_message_and_to_the_hub() -> None:
    decision = routed("rfi_response", origin="ML", recipients=["TD"], answered_origin="NE")
    assert decision.rule == "reply-to-originator"
    assert decision.recipients == ["NE", "HUB"]


def test_an_acknowledgement_goes_to_the_origin_of_the_answered_message_only() -> None:
    decision = routed("acknowledgement", origin="ML", answered_origin="NE")
    assert decision.rule == "reply-to-originator"
    assert decision.recipients == ["NE"]
    assert decision.refused == []


def test_a_reply_to_an_inactive_originator_is_refused_with_the_reason() -> None:
    decision = routed("acknowledgement", origin="ML", answered_origin="NE", NE="withdrawn")
    assert decision.recipients == []
    assert decision.refused == [("NE", "member is withdrawn")]


@pytest.mark.parametrize("kind", ["rfi_response", "acknowledgement"])
def test_a_reply_to_a_message_unknown_to_the_hub_goes_nowhere(kind: str) -> None:
    decision = routed(kind, origin="ML", answered_origin=None)
    assert decision.rule == "reply-to-unknown-message"
    assert decision.recipients == []
    assert decision.refused == [("ML", "the message answered is unknown to the hub")]


@pytest.mark.parametrize("status", ["suspended", "withdrawn"])
@pytest.mark.parametrize("kind", ["alert", "rfi", "acknowledgement"])
def test_a_message_from_an_inactive_origin_goes_nowhere(kind: str, status: str) -> None:
    decision = routed(kind, answered_origin="ML", NE=status)
    assert decision.rule == f"origin-{status}"
    assert decision.recipients == []
    assert decision.refused == [("NE", f"origin is {status}")]


@pytest.mark.parametrize("kind", ["alert", "report", "rfi_response"])
def test_a_message_from_an_unknown_origin_goes_nowhere(kind: str) -> None:
    decision = routed(kind, origin="SN", answered_origin="ML")
    assert decision.rule == "origin-unknown"
    assert decision.recipients == []
    assert decision.refused == [("SN", "origin is not a platform of the federation")]


@pytest.mark.parametrize(("kind", "recipients", "answered_origin"), [
    ("alert", None, None),
    ("report", ["ALL"], None),
    ("rfi", ["NE", "ML"], None),
    ("rfi_response", ["ML"], "NE"),
    ("acknowledgement", ["ML"], "NE"),
])
def test_the_origin_never_receives_its_own_message(kind: str, recipients: list[str] | None,
                                                   answered_origin: str | None) -> None:
    decision = routed(kind, origin="NE", recipients=recipients, answered_origin=answered_origin)
    assert "NE" not in decision.recipients
    assert "NE" not in [code for code, _ in decision.refused]


def test_the_hub_never_receives_its_own_message() -> None:
    decision = routed("alert", origin="HUB")
    assert decision.recipients == ["MR", "ML", "BF", "NE", "TD"]


def test_no_platform_receives_a_message_twice() -> None:
    decision = routed("rfi", recipients=["ML", "TD"])
    assert len(decision.recipients) == len(set(decision.recipients))
