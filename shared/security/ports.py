"""Where API users (hashed tokens) and security events are kept: one table each in the platform's own database."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ApiUser:
    token_id: str
    platform: str
    name: str
    role: str
    secret_sha256: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class SecurityEvent:
    """A refusal (or an operator's action): who, what, when, why. Never a token's secret."""

    platform: str
    service: str
    kind: str  # unauthenticated | forbidden | rate_limited | payload_too_large | operator_action
    reason: str
    status: int | None = None
    token_id: str | None = None
    actor: str | None = None
    role: str | None = None
    method: str | None = None
    path: str | None = None
    client: str | None = None
    at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class TokenStore(Protocol):
    async def add(self, user: ApiUser, *, created_by: str | None = None) -> None: ...

    async def find(self, token_id: str) -> ApiUser | None: ...

    async def revoke(self, *, platform: str, name: str | None = None, token_id: str | None = None,
                     revoked_by: str | None = None) -> list[str]:
        """Revokes the named user's live tokens (or the one token id); returns the token ids revoked."""
        ...

    async def users(self, *, include_revoked: bool = False) -> list[ApiUser]: ...


class SecurityEventLog(Protocol):
    async def record(self, event: SecurityEvent) -> None: ...

    async def query(self, *, since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:
        """Newest first."""
        ...
