"""The operators' commands (`pcms members`, `pcms dlq`) check an operator's token before they act.

The token is verified against the hub's token store; a refusal and every action are recorded in the
hub's `security_events`, with the operator's name. This makes operators accountable; it is not a
wall: the commands also need the database and broker credentials, and whoever holds those can act
without the command line. The broker's own users and permissions are that wall.
"""

from dataclasses import dataclass
from typing import Any

from shared.security import tokens
from shared.security.ports import ApiUser, SecurityEvent, SecurityEventLog, TokenStore
from shared.security.roles import Action, refusal

SERVICE = "cli"


class OperatorRefused(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Operator:
    token_id: str
    name: str


def token_refusal(presented: str | None, user: ApiUser | None, *, platform: str) -> str | None:
    """Why a presented token does not authenticate at `platform` (user is the store's row for its id), or None."""
    if not presented:
        return "no token: pass --token or set PCMS_TOKEN (an operator's token from `pcms users add --role operator`)"
    try:
        parsed = tokens.parse(presented)
    except tokens.MalformedToken as malformed:
        return str(malformed)
    if user is None or user.token_id != parsed.token_id or not tokens.secret_matches(parsed.secret, user.secret_sha256):
        return "unknown token"
    if user.revoked:
        return "the token was revoked"
    if user.platform != platform:
        return f"the token was issued for {user.platform}, not {platform}"
    return None


async def authenticate_operator(presented: str | None, *, store: TokenStore, events: SecurityEventLog, hub: str,
                                action: Action, command: str, detail: dict[str, Any] | None = None) -> Operator:
    """The operator a token names, recorded as acting; OperatorRefused (recorded too) otherwise."""
    token_id = tokens.claimed_token_id(f"Bearer {presented}") if presented else None
    user = await store.find(token_id) if token_id else None
    why = token_refusal(presented, user, platform=hub)
    kind = "unauthenticated"
    if why is None:
        assert user is not None
        why = refusal(user.role, action, at_hub=True)
        kind = "forbidden"
    event = dict(platform=hub, service=SERVICE, token_id=token_id, actor=user.name if user else None,
                 role=user.role if user else None, method="CLI", path=command, detail=detail or {})
    if why is not None:
        await events.record(SecurityEvent(kind=kind, reason=why, **event))  # type: ignore[arg-type]
        raise OperatorRefused(kind, why)
    assert user is not None
    await events.record(SecurityEvent(kind="operator_action", reason=f"{user.name} ran {command}", **event))  # type: ignore[arg-type]
    return Operator(token_id=user.token_id, name=user.name)
