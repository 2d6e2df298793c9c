"""The rules of deploy/routing-policy.yaml: handling codes, evaluation, alert updates, hits and their owners."""

from uuid import UUID

import pytest

from shared.contracts.common import HandlingCode
from shared.contracts.events import EntityType, Hit, MatchOutcome
from services.routing.domain.decisions import Original, decide
from services.routing.domain.hits import REFERENCE_ONLY, notification_targets, visible_hits
from tests.unit.routing.test_decisions import BODIES, MESSAGE_ID, NOW, POLICY, federation, message

pytestmark = pytest.mark.unit

EARLIER = UUID("00000000-0000-4000-8000-0000000000aa")


def with_code(kind: str, code: str, recipients: list[str] | None = None, **body: object):  # noqa: ANN201
    base = message(kind, recipients=recipients)
    note = "Not for the press." if code == "H3" else None
    return base.model_copy(update={"handling_code": HandlingCode(code), "handling_note": note,
                                   "body": base.body.model_copy(update=body) if body else base.body})


def a_hit(owner: str, outcome: str = "hit") -> Hit:
    return Hit(entity_type=EntityType.PERSON, position=0, key="name:mohamed ahmed", matched_message_id=EARLIER,
               matched_platform=owner, score=0.95, outcome=MatchOutcome(outcome), explanation=["names identical"])


@pytest.mark.parametrize("kind", ["alert", "report", "rfi"])
def test_h2_addressed_to_all_reaches_only_the_hub_and_says_why(kind: str) -> None:
    decision = decide(with_code(kind, "H2", ["ALL"]), federation=federation(), policy=POLICY, original=None)
    assert decision.rule == "h2-named-recipients-only"
    assert decision.recipients == ["HUB"]
    assert decision.refused == [("ALL", "H2 forbids dissemination beyond named recipients")]


def test_an_h2_alert_to_named_recipients_is_never_fanned_out_and_its_hits_travel_as_references() -> None:
    decision = decide(with_code("alert", "H2", ["ML"]), federation=federation(), policy=POLICY, original=None)
    assert decision.recipients == ["ML", "HUB"]
    assert decision.hits == "references_only"


@pytest.mark.parametrize("code", ["H0", "H1", "H3"])
def test_an_alert_under_a_code_that_permits_fan_out_reaches_every_active_member(code: str) -> None:
    decision = decide(with_code("alert", code, ["ML"]), federation=federation(), policy=POLICY, original=None)
    assert decision.recipients == ["MR", "ML", "BF", "TD", "HUB"] and decision.hits == "full"


@pytest.mark.parametrize("kind", ["alert", "report"])
def test_an_unevaluated_alert_or_report_is_refused_by_routing_too(kind: str) -> None:
    unevaluated = message(kind).model_copy(update={"evaluation": None})
    decision = decide(unevaluated, federation=federation(), policy=POLICY, original=None)
    assert decision.rule == "evaluation-required" and decision.recipients == []


def test_an_alert_update_goes_to_the_recipients_of_the_alert_it_supersedes() -> None:
    update = with_code("alert", "H2", ["ML"], supersedes=EARLIER)
    original = Original(EARLIER, "NE", ("ML", "TD", "HUB"))
    decision = decide(update, federation=federation(), policy=POLICY, original=original)
    assert decision.rule == "alert-update-to-original-recipients"
    assert decision.recipients == ["ML", "TD", "HUB"]


def test_only_the_originator_may_update_or_cancel_an_alert() -> None:
    update = with_code("alert", "H0", supersedes=EARLIER, cancelled=True)
    decision = decide(update, federation=federation(), policy=POLICY, original=Original(EARLIER, "TD", ("ML",)))
    assert decision.rule == "alert-update-by-originator-only" and decision.recipients == []


def test_hits_on_a_withdrawn_members_records_are_shown_to_the_hub_only() -> None:
    fed = federation(BF="withdrawn")
    hits = [a_hit("BF"), a_hit("TD")]
    assert visible_hits(hits, recipient="ML", federation=fed, policy=POLICY, references_only=False) == [hits[1]]
    assert visible_hits(hits, recipient="HUB", federation=fed, policy=POLICY, references_only=False) == hits


def test_references_only_hits_carry_no_key_and_no_explanation() -> None:
    [shown] = visible_hits([a_hit("TD")], recipient="ML", federation=federation(), policy=POLICY, references_only=True)
    assert (shown.key, shown.explanation, shown.matched_message_id, shown.matched_platform) == (
        REFERENCE_ONLY, [], EARLIER, "TD")


def test_a_hit_is_notified_to_the_owners_of_both_records_and_to_the_hub() -> None:
    targets = notification_targets([a_hit("TD"), a_hit("ML", "review")], origin="NE", federation=federation(),
                                   policy=POLICY)
    assert set(targets) == {"NE", "TD", "HUB"}
    assert [hit.matched_platform for hit in targets["TD"]] == ["TD"]


def test_no_notification_for_review_outcomes_or_inactive_owners() -> None:
    assert notification_targets([a_hit("ML", "review")], origin="NE", federation=federation(), policy=POLICY) == {}
    targets = notification_targets([a_hit("TD")], origin="NE", federation=federation(TD="withdrawn"), policy=POLICY)
    assert set(targets) == {"NE", "HUB"}


def test_the_policy_file_names_every_handling_code_and_kind() -> None:
    assert set(POLICY.handling_codes) == {"H0", "H1", "H2", "H3"}
    assert set(POLICY.kinds) == set(BODIES)
    assert POLICY.handling_codes["H2"].fan_out is False


_ = (MESSAGE_ID, NOW)
