from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.bodies import AcknowledgementState
from shared.contracts.common import NationalService
from shared.contracts.messages import SubmitMessage
from shared.http import UNREADABLE_BODY, create_app, service_unavailable, validation_failed
from shared.messaging import names
from shared.messaging.ports import UnitOfWork
from shared.security.http_auth import NOT_FOUND, REFUSALS, ApiAuth, Guard, Principal
from shared.security.roles import Action
from services.intake import handlers
from services.intake.desk import SubmissionDesk
from services.intake.ports import IntakeQueries, IntakeStore


class Accepted(BaseModel):
    message_id: UUID = Field(description="Id stamped on the accepted message.")
    correlation_id: UUID = Field(description="Correlation id of the message.")


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["read", "actioned", "refused"] = Field(description="How far the officer has got.", examples=["read"])
    reason: str | None = Field(default=None, max_length=200, description="Required for refused.", examples=[None])
    submitted_by: NationalService = Field(default=NationalService.POLICE, description="Service acknowledging.")


def build_api(
    *,
    platform: str,
    new_uow: Callable[[], UnitOfWork[IntakeStore]],
    queries: IntakeQueries,
    message_deps: dict[str, Any],
    health: Callable[[], dict[str, bool]],
    max_body_bytes: int,
    auth: ApiAuth,
    refusal: Callable[[str], str | None] = lambda _lane: None,
    import_uow: Callable[[], UnitOfWork[IntakeStore]] | None = None,
) -> FastAPI:
    """refusal(lane) names why the platform cannot accept more of a lane now (backpressure), or None. `import_uow` gives the units
    of work of bulk imports (the bulk lane's connections, shared/db/lanes.py); by default, `new_uow`.

    Every /v1 endpoint needs a token of this platform (`Authorization: Bearer`); see shared/security/roles.py."""
    guard = Guard(platform=platform, service="intake", auth=auth)
    desk = SubmissionDesk(
        lambda submissions: handlers.submit_together(submissions, uow=new_uow(), platform=platform, **message_deps),
        lane_of=lambda submission: names.lane_of(submission.command.kind, submission.command.priority))
    app = create_app(f"PCMS intake — {platform}", max_body_bytes=max_body_bytes, guard=guard)

    def caller(action: Action) -> Any:
        return Annotated[Principal, Depends(guard.require(action))]

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks = health()
        status = 200 if all(checks.values()) else 503
        return JSONResponse({"status": "ok" if status == 200 else "degraded", "platform": platform, "checks": checks},
                            status_code=status)

    @app.post("/v1/messages", status_code=202, response_model=Accepted,
              responses={**REFUSALS, **UNREADABLE_BODY,
                         503: {"description": "Cannot accept now; retry after the Retry-After header's seconds."}})
    async def submit(
        command: Annotated[SubmitMessage, Body()],
        principal: caller(Action.SUBMIT),  # type: ignore[valid-type]
        idempotency_key: Annotated[str | None, Header(
            max_length=200, description="Client's key for this submission: a retry with the same key is accepted once."
        )] = None,
    ) -> Accepted | JSONResponse:
        if (reason := refusal(names.lane_of(command.kind, command.priority))) is not None:
            return service_unavailable(reason)
        try:
            message = await desk.submit(handlers.Submission(command, idempotency_key, principal.user))
        except handlers.SubmissionInProgress as busy:
            raise HTTPException(409, detail=str(busy)) from None
        return Accepted(message_id=message.message_id, correlation_id=message.correlation_id)

    @app.get("/v1/inbox", responses=REFUSALS)
    async def inbox(
        principal: caller(Action.READ_INBOX),  # type: ignore[valid-type]
        kind: Literal["alert", "report", "rfi", "rfi_response"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before: Annotated[str | None, Query(description="ISO timestamp: items received before it")] = None,
    ) -> dict[str, Any]:
        items = await queries.inbox(kind=kind, limit=limit, before=before)
        await _record_reads(items, actor=principal.user, via="GET /v1/inbox")
        return {"platform": platform, "count": len(items), "items": items}

    async def _record_reads(items: list[dict[str, Any]], *, actor: str | None, via: str) -> None:
        """Reads of personal data are audited before they are answered."""
        reads = [(UUID(i["message_id"]), UUID(i["message"]["correlation_id"]), i["kind"]) for i in items]
        if reads:
            await handlers.record_reads(reads, uow=new_uow(), platform=platform, actor=actor, via=via,
                                        clock=message_deps["clock"])

    @app.get("/v1/rfis", responses=REFUSALS)
    async def rfis(
        principal: caller(Action.READ_RFIS),  # type: ignore[valid-type]
        status: Literal["open", "overdue", "answered", "refused"] | None = None,
        direction: Literal["sent", "received"] | None = None,
    ) -> dict[str, Any]:
        """Requests for information this platform sent or must answer, by status (overdue: open past the deadline)."""
        found = await queries.rfis(status=status, direction=direction, now=message_deps["clock"]())
        return {"platform": platform, "count": len(found), "items": found}

    @app.get("/v1/notifications", responses=REFUSALS)
    async def notifications(
        principal: caller(Action.READ_NOTIFICATIONS),  # type: ignore[valid-type]
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Reminders of requests to answer and notices of overdue requests."""
        found = await queries.notifications(limit=limit)
        return {"platform": platform, "count": len(found), "items": found}

    @app.get("/v1/matches", responses=REFUSALS)
    async def matches(
        principal: caller(Action.READ_MATCHES),  # type: ignore[valid-type]
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Hit notifications: records of this platform and another that concern the same entity."""
        found = await queries.matches(limit=limit)
        return {"platform": platform, "count": len(found), "items": found}

    @app.get("/v1/messages/{message_id}", responses={**REFUSALS, **NOT_FOUND})
    async def sent_message(
        message_id: UUID,
        principal: caller(Action.READ_SENT),  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        found = await queries.sent_message(message_id)
        if found is None:
            raise HTTPException(404, detail=f"message {message_id} was not sent by {platform}")
        await _record_reads([{"message_id": str(message_id), "message": found["message"], "kind": found["message"]["kind"]}],
                            actor=principal.user, via="GET /v1/messages/{id}")
        return found

    @app.post("/v1/messages/{message_id}/ack", status_code=202, response_model=Accepted,
              responses={**REFUSALS, **NOT_FOUND, **UNREADABLE_BODY})
    async def acknowledge(
        message_id: UUID, request: AcknowledgeRequest,
        principal: caller(Action.ACKNOWLEDGE),  # type: ignore[valid-type]
    ) -> Accepted | JSONResponse:
        if request.state == "refused" and not request.reason:
            return validation_failed([{"path": "reason", "reason": "a refusal needs a reason"}])
        try:
            ack = await handlers.acknowledge_message(
                message_id, AcknowledgementState(request.state), reason=request.reason,
                submitted_by=request.submitted_by, uow=new_uow(), platform=platform, actor=principal.user,
                clock=message_deps["clock"], new_id=message_deps["new_id"],
            )
        except handlers.NotInInbox as missing:
            raise HTTPException(404, detail=str(missing)) from None
        return Accepted(message_id=ack.message_id, correlation_id=ack.correlation_id)

    from services.intake.imports import import_router  # bulk imports on the BULK lane: POST /v1/imports

    app.include_router(import_router(platform=platform, new_uow=import_uow or new_uow, message_deps=message_deps, refusal=refusal,
                                     authorised=guard.require(Action.IMPORT)))
    return app
