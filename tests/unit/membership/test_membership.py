import pytest

from shared.federation import Federation
from shared.membership import MembershipError, change
from tests.federations import federation_with

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("action", "before", "after"), [
    ("suspend", "active", "suspended"),
    ("reinstate", "suspended", "active"),
    ("withdraw", "active", "withdrawn"),
    ("withdraw", "suspended", "withdrawn"),
    ("admit", "withdrawn", "active"),
])
def test_each_action_moves_a_member_to_its_status(action: str, before: str, after: str) -> None:
    done = change(federation_with(TD=before), "TD", action)
    assert (done.before, done.after) == (before, after)
    assert Federation.model_validate(done.federation).get("TD").status.value == after


@pytest.mark.parametrize(("action", "status"), [
    ("suspend", "suspended"), ("suspend", "withdrawn"), ("reinstate", "active"), ("withdraw", "withdrawn"),
    ("admit", "active"),
])
def test_an_action_the_status_does_not_allow_is_refused_with_the_reason(action: str, status: str) -> None:
    with pytest.raises(MembershipError, match=f"cannot {action} TD: it is {status}"):
        change(federation_with(TD=status), "TD", action)


def test_a_new_member_is_admitted_as_data() -> None:
    done = change(federation_with(), "SN", "admit",
                  new_member={"name": "Senegal", "city": "Dakar", "country": "SN", "api_port": 8006})
    admitted = Federation.model_validate(done.federation).get("SN")
    assert (admitted.status.value, admitted.role, done.before) == ("active", "member", None)


def test_a_new_member_needs_its_details_and_the_hub_cannot_change() -> None:
    with pytest.raises(MembershipError, match="give its name"):
        change(federation_with(), "SN", "admit")
    with pytest.raises(MembershipError, match="hub"):
        change(federation_with(), "HUB", "suspend")
    with pytest.raises(MembershipError, match="not a platform"):
        change(federation_with(), "XX", "suspend")
