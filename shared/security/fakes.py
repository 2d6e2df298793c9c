"""In-memory token store and security event log, for unit tests and in-process fuzzing."""

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.security.ports import ApiUser, SecurityEvent
from shared.security.tokens import new_token

if TYPE_CHECKING:
    from shared.security.http_auth import ApiAuth


class InMemoryTokenStore:
    def __init__(self) -> None:
        self.rows: dict[str, ApiUser] = {}

    async def add(self, user: ApiUser, *, created_by: str | None = None) -> None:
        if user.token_id in self.rows:
            raise ValueError(f"token id {user.token_id} is taken")
        self.rows[user.token_id] = replace(user, created_at=user.created_at or datetime.now(UTC))

    def issue(self, platform: str, name: str, role: str) -> str:
        """A live token for the user; returns its text (what the user would be shown once)."""
        token = new_token()
        self.rows[token.token_id] = ApiUser(token.token_id, platform, name, role, token.secret_sha256, datetime.now(UTC))
        return token.text

    async def find(self, token_id: str) -> ApiUser | None:
        return self.rows.get(token_id)

    async def revoke(self, *, platform: str, name: str | None = None, token_id: str | None = None,
                     revoked_by: str | None = None) -> list[str]:
        revoked = []
        for key, user in self.rows.items():
            if user.platform == platform and not user.revoked and (user.name == name or key == token_id):
                self.rows[key] = replace(user, revoked_at=datetime.now(UTC))
                revoked.append(key)
        return revoked

    async def users(self, *, include_revoked: bool = False) -> list[ApiUser]:
        return [u for u in self.rows.values() if include_revoked or not u.revoked]


class InMemorySecurityEventLog:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []

    async def record(self, event: SecurityEvent) -> None:
        self.events.append(replace(event, at=event.at or datetime.now(UTC)))

    async def query(self, *, since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:
        found = [asdict(e) | {"id": i} for i, e in enumerate(self.events, start=1)
                 if (kind is None or e.kind == kind) and (since is None or e.at >= since)  # type: ignore[operator]
                 and (until is None or e.at < until)]  # type: ignore[operator]
        return list(reversed(found))[:limit]


def fake_auth(*, hub: str = "HUB", per_second: float = 1000.0, burst: int = 2000) -> "ApiAuth":
    """An ApiAuth over the in-memory store and log: `auth.tokens.issue(platform, name, role)` gives a token."""
    from shared.security.http_auth import ApiAuth
    from shared.security.ratelimit import RateLimiter

    return ApiAuth(tokens=InMemoryTokenStore(), events=InMemorySecurityEventLog(),
                   limiter=RateLimiter(per_second, burst), cache_seconds=0, hub=hub,
                   refusals=RateLimiter(per_second, burst))
