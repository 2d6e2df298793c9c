"""FastAPI glue for API tokens: a dependency that answers with the authenticated Principal or refuses.

    guard = Guard(platform="NE", service="intake", auth=auth)
    app = create_app("...", guard=guard)           # 401/403/429 bodies, 413s recorded
    @app.get("/v1/inbox")
    async def inbox(principal: Annotated[Principal, Depends(guard.require(Action.READ_INBOX))]): ...

Refusals: 401 `unauthenticated` (no, malformed, unknown or revoked token; `WWW-Authenticate: Bearer`),
403 `forbidden` (the role may not; `required_roles`), 429 `rate_limited` (`Retry-After`). Each one
is recorded in the platform's `security_events` before it is answered. Verified tokens are cached
for `cache_seconds`: a revocation takes effect at the latest that long after it is made.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.types import Scope

from shared.security import tokens
from shared.security.ports import ApiUser, SecurityEvent, SecurityEventLog, TokenStore
from shared.security.ratelimit import RateLimiter, retry_after_header
from shared.security.roles import Action, refusal, required_roles

log = structlog.get_logger("security")
HUB = "HUB"
DEFAULT_CACHE_SECONDS = 5.0
REFUSALS_PER_SECOND = 5.0
REFUSALS_BURST = 50

bearer = HTTPBearer(auto_error=False, description="A PCMS API token (`pcms users add`): `Authorization: Bearer pcms_...`")

class Refusal(BaseModel):
    error: Literal["unauthenticated", "forbidden", "rate_limited"]
    detail: str = Field(description="Why, in words; never a token's secret.")
    required_roles: list[str] | None = Field(default=None, description="403 only: the roles that may do this.")


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": Refusal, "description": "No valid token: missing, malformed, unknown or revoked "
                                           "(`WWW-Authenticate: Bearer`)."},
    403: {"model": Refusal, "description": "The token's role may not do this (`required_roles` names who may)."},
    429: {"model": Refusal, "description": "Too many requests with this token; retry after the Retry-After header's seconds."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such record here."}}


@dataclass(frozen=True)
class Principal:
    """Who calls: the user a verified token belongs to."""

    token_id: str
    user: str
    platform: str
    role: str


@dataclass
class ApiAuth:
    """What a service's API needs to authenticate: built in bootstrap (adapters) or in tests (fakes)."""

    tokens: TokenStore
    events: SecurityEventLog
    limiter: RateLimiter
    cache_seconds: float = DEFAULT_CACHE_SECONDS
    hub: str = HUB  # the hub's code: analysts' and operators' tokens are valid only there
    # Refused authentications per client address: beyond this, a flood of bad tokens gets 429 without a
    # token lookup or an event each; the next recorded refusal from that address counts what was suppressed.
    refusals: RateLimiter = field(default_factory=lambda: RateLimiter(REFUSALS_PER_SECOND, REFUSALS_BURST))


class ApiRefused(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("detail"))
        self.status = status
        self.body = body
        self.headers = headers or {}


async def answer_refusal(_: Request, refused: ApiRefused) -> JSONResponse:
    return JSONResponse(status_code=refused.status, content=refused.body, headers=refused.headers)


class Guard:
    def __init__(self, *, platform: str, service: str, auth: ApiAuth, clock: Callable[[], float] = time.monotonic) -> None:
        self.platform = platform
        self.service = service
        self.auth = auth
        self._clock = clock
        self._verified: dict[str, tuple[ApiUser, float]] = {}
        self._suppressed: dict[str, int] = {}  # client address -> refusals answered 429 and not recorded one by one

    def require(self, action: Action) -> Callable[..., Any]:
        async def authenticated(
            request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
        ) -> Principal:
            return await self.authorise(request, action)

        return authenticated

    async def authorise(self, request: Request, action: Action) -> Principal:
        user = await self._authenticate(request)
        principal = Principal(token_id=user.token_id, user=user.name, platform=user.platform, role=user.role)
        wait = self.auth.limiter.take(user.token_id)
        if wait > 0:
            detail = (f"more than {self.auth.limiter.per_second:g} requests a second with token {user.token_id}; "
                      f"retry after {retry_after_header(wait)} s")
            await self._record(request, "rate_limited", 429, detail, principal)
            raise ApiRefused(429, {"error": "rate_limited", "detail": detail},
                             {"Retry-After": retry_after_header(wait)})
        why = refusal(user.role, action, at_hub=self.platform == self.auth.hub)
        if why is not None:
            await self._record(request, "forbidden", 403, why, principal, action=action)
            raise ApiRefused(403, {"error": "forbidden", "detail": why, "required_roles": required_roles(action)})
        return principal

    async def _authenticate(self, request: Request) -> ApiUser:
        address = client_address(request.scope)
        if (wait := self.auth.refusals.waiting(address)) > 0:
            self._suppress(address, wait)
        header = request.headers.get("authorization")
        if not header:
            await self._unauthenticated(request, "no Authorization header: send `Authorization: Bearer <token>`")
        scheme, _, value = header.partition(" ")  # type: ignore[union-attr]
        if scheme.lower() != "bearer" or not value.strip():
            await self._unauthenticated(request, "the Authorization header is not `Bearer <token>`")
        try:
            presented = tokens.parse(value)
        except tokens.MalformedToken as malformed:
            await self._unauthenticated(request, str(malformed))
        user = await self._lookup(presented.token_id)
        if user is None or not tokens.secret_matches(presented.secret, user.secret_sha256):
            await self._unauthenticated(request, "unknown token", token_id=presented.token_id)
        assert user is not None
        if user.revoked:
            self._verified.pop(user.token_id, None)
            await self._unauthenticated(request, "the token was revoked", token_id=user.token_id, actor=user.name)
        if user.platform != self.platform:
            await self._unauthenticated(request, f"the token was issued for {user.platform}, not {self.platform}",
                                        token_id=user.token_id, actor=user.name)
        return user

    async def _lookup(self, token_id: str) -> ApiUser | None:
        now = self._clock()
        cached = self._verified.get(token_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        user = await self.auth.tokens.find(token_id)
        if user is not None and not user.revoked and self.auth.cache_seconds > 0:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[token_id] = (user, now + self.auth.cache_seconds)
        return user

    async def _unauthenticated(self, request: Request, detail: str, *, token_id: str | None = None,
                               actor: str | None = None) -> None:
        address = client_address(request.scope)
        if (wait := self.auth.refusals.take(address)) > 0:
            self._suppress(address, wait)
        suppressed = self._suppressed.pop(address, 0)
        await self._record(request, "unauthenticated", 401, detail, None, token_id=token_id, actor=actor,
                           extra={"suppressed_before": suppressed} if suppressed else None)
        raise ApiRefused(401, {"error": "unauthenticated", "detail": detail}, {"WWW-Authenticate": "Bearer"})

    def _suppress(self, address: str, wait: float) -> None:
        if len(self._suppressed) > 100_000:
            self._suppressed.clear()
        self._suppressed[address] = self._suppressed.get(address, 0) + 1
        raise ApiRefused(429, {"error": "rate_limited",
                               "detail": f"too many refused requests from {address}; retry after "
                                         f"{retry_after_header(wait)} s"}, {"Retry-After": retry_after_header(wait)})

    async def _record(self, request: Request, kind: str, status: int, reason: str, principal: Principal | None, *,
                      token_id: str | None = None, actor: str | None = None, action: Action | None = None,
                      extra: dict[str, Any] | None = None) -> None:
        await self.record(request.scope, kind, status, reason, token_id=principal.token_id if principal else token_id,
                          actor=principal.user if principal else actor, role=principal.role if principal else None,
                          detail={**({"action": action.value} if action else {}), **(extra or {})})

    async def record(self, scope: Scope, kind: str, status: int, reason: str, *, token_id: str | None = None,
                     actor: str | None = None, role: str | None = None, detail: dict[str, Any] | None = None) -> None:
        event = SecurityEvent(
            platform=self.platform, service=self.service, kind=kind, status=status, reason=reason, token_id=token_id,
            actor=actor, role=role, method=scope.get("method"), path=scope.get("path"),
            client=client_address(scope) if scope.get("client") else None, detail=detail or {},
        )
        log.warning("api_refused", kind=kind, status=status, reason=reason, token_id=token_id, actor=actor,
                    path=event.path)
        try:
            await self.auth.events.record(event)
        except Exception as error:  # the refusal stands even when it cannot be recorded
            log.error("security_event_not_recorded", error=f"{type(error).__name__}: {error}", kind=kind)

    async def too_large(self, scope: Scope, max_bytes: int) -> None:
        """BodySizeLimit's hook: a 413 is recorded with the token id the request claims (not verified)."""
        headers = dict(scope.get("headers", []))
        claimed = tokens.claimed_token_id(headers.get(b"authorization", b"").decode("latin-1"))
        await self.record(scope, "payload_too_large", 413, f"the body exceeds {max_bytes} bytes", token_id=claimed,
                          detail={"token_verified": False} if claimed else {})


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
