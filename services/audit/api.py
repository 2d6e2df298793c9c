"""The audit API: trails, platform activity, reads, the witness state; CSV on request.

Reading the audit trail is itself a read of personal data: every answer that shows entries of a
message is recorded as a `read` entry (who, which message, through which query) before it is
sent; if that record cannot be written the answer is 503, never an unrecorded read. Who reads is
the user of the auditor's token (`Authorization: Bearer`, issued by this platform): only auditors
may query. GET /v1/audit/security-events lists refused API calls and operators' commands.
"""

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from shared.contracts.events import Hop, HopRecorded
from shared.http import create_app
from shared.security.http_auth import NOT_FOUND, REFUSALS, ApiAuth, Guard, Principal
from shared.security.roles import Action
from services.audit.adapters import direction
from services.audit.ports import AuditLog, AuditQueries

CSV_COLUMNS = ("seq", "at", "platform", "hop", "direction", "message_id", "correlation_id", "kind", "service", "actor",
               "event_id", "detail", "content_sha256", "leaf_hash", "recorded_at", "purged")
ANONYMOUS = "anonymous"

Format = Literal["json", "csv"]
CSV_OR_JSON = {**REFUSALS, 200: {"description": "JSON, or CSV with format=csv.",
                                 "content": {"text/csv": {"schema": {"type": "string"}}}}}


def entries_csv(entries: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        row = {key: entry.get(key) for key in CSV_COLUMNS}
        row["direction"] = direction(entry.get("hop"))
        row["detail"] = _json_text(entry.get("detail"))
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return buffer.getvalue()


def _json_text(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value is not None else ""


def build_api(
    *,
    platform: str,
    queries: AuditQueries,
    auth: ApiAuth,
    recorder: AuditLog | None = None,
    witness_view: Callable[[], Awaitable[dict[str, Any]]] | None = None,
) -> FastAPI:
    guard = Guard(platform=platform, service="audit", auth=auth)
    app = create_app(f"PCMS audit — {platform}", guard=guard)
    Auditor = Annotated[Principal, Depends(guard.require(Action.READ_AUDIT))]

    async def record_reads(entries: list[dict[str, Any]], actor: str | None, via: str) -> None:
        if recorder is None:
            return
        seen: dict[Any, dict[str, Any]] = {}
        for entry in entries:
            if entry.get("message_id") is not None:
                seen.setdefault(entry["message_id"], entry)
        for message_id, entry in seen.items():
            read = HopRecorded(
                event_id=uuid4(), message_id=message_id, correlation_id=entry.get("correlation_id"),
                kind=entry.get("kind"), hop=Hop.READ, platform=platform, service="audit",
                actor=(actor or ANONYMOUS)[:200], at=datetime.now(UTC),
                detail={"via": via, "entries": sum(1 for e in entries if e.get("message_id") == message_id)},
            )
            try:
                await recorder.append(read)
            except Exception as error:  # no read without its record
                raise HTTPException(503, detail=f"the read could not be recorded ({type(error).__name__})") from error

    def answer(body: dict[str, Any], entries: list[dict[str, Any]], fmt: Format, filename: str) -> Response:
        if fmt == "csv":
            return Response(entries_csv(entries), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
        return JSONResponse(_jsonable(body))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "platform": platform, "service": "audit"}

    @app.get("/v1/audit/messages/{message_id}", summary="The trail of a message: every hop, in order",
             responses={**CSV_OR_JSON, **NOT_FOUND})
    async def message_trail(
        message_id: UUID,
        principal: Auditor,
        format: Format = "json",
        include_reads: bool = Query(False, description="Also the `read` entries (who looked at this trail)."),
    ) -> Response:
        trail = await queries.trail(message_id, include_reads=include_reads)
        if not trail:
            raise HTTPException(404, detail=f"no audit entries for message {message_id} at {platform}")
        await record_reads(trail, principal.user, "GET /v1/audit/messages/{message_id}")
        body = {"message_id": str(message_id), "platform": platform, "hops": [e["hop"] for e in trail],
                "entries": trail}
        return answer(body, trail, format, f"audit-{message_id}")

    @app.get("/v1/audit/platforms/{code}", summary="Everything a platform sent or received in a period",
             responses=CSV_OR_JSON)
    async def platform_activity(
        code: str,
        principal: Auditor,
        since: datetime | None = Query(None, description="From this time (inclusive), ISO 8601."),
        until: datetime | None = Query(None, description="Until this time (exclusive), ISO 8601."),
        limit: int = Query(10_000, ge=1, le=100_000),
        format: Format = "json",
    ) -> Response:
        entries = await queries.platform_activity(code.upper(), since, until, limit)
        for entry in entries:
            entry["direction"] = direction(entry.get("hop"))
        await record_reads(entries, principal.user, "GET /v1/audit/platforms/{code}")
        body = {"platform": code.upper(), "since": since, "until": until, "count": len(entries), "entries": entries}
        return answer(body, entries, format, f"audit-{code.upper()}")

    @app.get("/v1/audit/reads", summary="Who read the audit trail of a message, and when", responses=CSV_OR_JSON)
    async def reads(message_id: UUID, _: Auditor, format: Format = "json") -> Response:
        entries = await queries.reads(message_id)
        body = {"message_id": str(message_id), "count": len(entries),
                "reads": [{"actor": e["actor"], "at": e["at"], "via": (e.get("detail") or {}).get("via"),
                           "seq": e["seq"]} for e in entries]}
        return answer(body, entries, format, f"audit-reads-{message_id}")

    @app.get("/v1/audit/witness", summary="What this platform holds of the hub's log (or, at the hub, its own log)",
             responses=REFUSALS)
    async def witness(_: Auditor) -> Response:
        state: dict[str, Any] = {"platform": platform, "log": await queries.log_state()}
        if witness_view is not None:
            state["witness"] = await witness_view()
        return JSONResponse(_jsonable(state))

    @app.get("/v1/audit/security-events", summary="Refused API calls and operators' commands at this platform, newest first",
             responses=REFUSALS)
    async def security_events(
        _: Annotated[Principal, Depends(guard.require(Action.READ_SECURITY_EVENTS))],
        since: datetime | None = Query(None, description="From this time (inclusive), ISO 8601."),
        until: datetime | None = Query(None, description="Until this time (exclusive), ISO 8601."),
        kind: Literal["unauthenticated", "forbidden", "rate_limited", "payload_too_large", "operator_action"] | None = None,
        limit: int = Query(1000, ge=1, le=10_000),
    ) -> Response:
        events = await auth.events.query(since=since, until=until, kind=kind, limit=limit)
        return JSONResponse(_jsonable({"platform": platform, "count": len(events), "events": events}))

    return app


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
