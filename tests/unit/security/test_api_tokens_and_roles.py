"""API tokens, roles and rate limits: the pure rules (shared/security/tokens.py, roles.py, ratelimit.py)."""

import pytest

from shared.security import tokens
from shared.security.ports import ApiUser
from shared.security.operators import token_refusal
from shared.security.ratelimit import RateLimiter, retry_after_header
from shared.security.roles import Action, Role, assignable, refusal, required_roles

pytestmark = pytest.mark.unit


def test_a_new_token_parses_back_to_its_id_and_only_the_hash_of_its_secret_is_kept() -> None:
    issued = tokens.new_token()
    assert issued.text.startswith("pcms_") and len(issued.text) == 5 + 12 + 1 + 43
    parsed = tokens.parse(issued.text)
    assert (parsed.token_id, parsed.secret) == (issued.token_id, issued.secret)
    assert tokens.secret_matches(parsed.secret, issued.secret_sha256) and issued.secret not in issued.secret_sha256
    assert issued.secret not in repr(issued) and tokens.new_token().token_id != issued.token_id


@pytest.mark.parametrize("text", ["", "pcms_", "Bearer pcms_x", "pcms_0123456789ab_short", "pcms_XYZ456789abc_" + "a" * 43,
                                  "ghp_" + "a" * 40, "pcms_0123456789ab_" + "a" * 42 + "!"])
def test_anything_else_is_a_malformed_token(text: str) -> None:
    with pytest.raises(tokens.MalformedToken):
        tokens.parse(text)


def test_the_claimed_token_id_of_a_header_is_read_without_verifying() -> None:
    issued = tokens.new_token()
    assert tokens.claimed_token_id(f"Bearer {issued.text}") == issued.token_id
    assert tokens.claimed_token_id(f"Basic {issued.text}") is None and tokens.claimed_token_id(None) is None


@pytest.mark.parametrize(("role", "action", "at_hub", "why"), [
    (Role.OFFICER, Action.SUBMIT, False, None),
    (Role.OFFICER, Action.READ_INBOX, True, None),
    (Role.ANALYST, Action.READ_INBOX, True, None),
    (Role.ANALYST, Action.READ_INBOX, False, "role analyst may read the inbox only at the hub"),
    (Role.ANALYST, Action.MATCH, True, None),
    (Role.ANALYST, Action.SUBMIT, True, "role analyst may not submit messages"),
    (Role.OFFICER, Action.MATCH, True, "role officer may not query the regional index"),
    (Role.OFFICER, Action.READ_AUDIT, False, "role officer may not read the audit log"),
    (Role.AUDITOR, Action.READ_AUDIT, False, None),
    (Role.AUDITOR, Action.SUBMIT, False, "role auditor may not submit messages"),
    (Role.OPERATOR, Action.READ_INBOX, True, "role operator may not read the inbox"),
    (Role.OPERATOR, Action.MANAGE_DLQ, True, None),
    ("root", Action.MANAGE_DLQ, True, "role root is not a known role"),
])
def test_who_may_do_what(role, action, at_hub, why) -> None:  # noqa: ANN001
    assert refusal(role, action, at_hub=at_hub) == why


def test_every_action_names_its_roles_and_analysts_and_operators_exist_only_at_the_hub() -> None:
    assert all(required_roles(action) for action in Action)
    assert required_roles(Action.READ_SENT) == ["analyst", "officer"]
    assert assignable("analyst", at_hub=False) == "role analyst exists only at the hub"
    assert assignable("operator", at_hub=True) is None and assignable("auditor", at_hub=False) is None
    assert "unknown role" in assignable("admin", at_hub=True)  # type: ignore[operator]


def test_an_operator_token_is_checked_like_an_api_token() -> None:
    issued = tokens.new_token()
    user = ApiUser(issued.token_id, "HUB", "operator.sow", "operator", issued.secret_sha256)
    assert token_refusal(issued.text, user, platform="HUB") is None
    assert "no token" in token_refusal(None, None, platform="HUB")  # type: ignore[operator]
    assert token_refusal(issued.text, None, platform="HUB") == "unknown token"
    assert token_refusal(issued.text, user, platform="NE") == "the token was issued for HUB, not NE"
    assert token_refusal(tokens.new_token().text, user, platform="HUB") == "unknown token"


def test_a_token_bucket_allows_a_burst_then_the_rate_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5) and limiter.take("b") == 0
    now[0] = 0.5
    assert limiter.take("a") == 0 and limiter.take("a") > 0
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"
