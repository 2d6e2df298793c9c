"""Bulk imports: `POST /v1/imports` takes up to 500 records of a file and accepts each valid one on the bulk lane.

Each record becomes one message exactly as if an officer had submitted it (a `SubmitAlert` of the
import's kind, stamped and accepted as `handlers.submit_message` does), with three differences: the
valid records of a request are accepted together, in one transaction (`handlers.submit_many`: one
statement for their rows, one for their outbox rows); each travels on the BULK lane
(its own queues at every hop, so alerts never wait behind an import) and its idempotency key is
`<source>:<line>`, where the client names the source by the SHA-256 of the file: importing the same
file again accepts nothing twice. A bad record is answered with its line and every reason; it never
stops the others.
"""

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.contracts.common import Evaluation, HandlingCode, Language, NationalService, Priority, Recipient
from shared.contracts.entities import Vehicle
from shared.contracts.messages import SubmitAlert
from shared.http import UNREADABLE_BODY, service_unavailable
from shared.messaging import names
from shared.messaging.ports import UnitOfWork
from shared.security.http_auth import REFUSALS, Principal
from services.intake import handlers
from services.intake.ports import IntakeStore

MAX_RECORDS = 500
YIELD_EVERY = 50

VEHICLE_FIELDS = tuple(Vehicle.model_fields)  # plate, plate_country, vin, make, model, colour
ALERT_FIELDS = ("summary", "valid_until")
RECORD_FIELDS = {"stolen_vehicle": VEHICLE_FIELDS + ALERT_FIELDS}


class Problem(BaseModel):
    path: str = Field(description="The record's column (or the message's field) at fault.", examples=["vin"])
    reason: str = Field(description="Why.", examples=["String should have at least 11 characters"])


class ImportDefaults(BaseModel):
    """What every record of the import carries unless it says otherwise."""

    model_config = ConfigDict(extra="forbid")

    submitted_by: NationalService = Field(default=NationalService.POLICE, description="Service that submits.")
    evaluation: Evaluation = Field(default_factory=lambda: Evaluation(source="B", information="2"),
                                   description="SIENA 4x4 evaluation of the register the file comes from.")
    recipients: list[Recipient] = Field(default_factory=lambda: ["ALL"], min_length=1, max_length=20)
    handling_code: HandlingCode = HandlingCode.H0
    handling_note: str | None = None
    priority: Priority = Priority.ROUTINE
    language: Language = Language.FR


class ImportLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(ge=1, description="Line of the record in the file.", examples=[2])
    record: dict[str, Any] = Field(description="The record, column -> value.",
                                   examples=[{"plate": "AB-1234-NE", "make": "Toyota", "model": "Hilux"}])


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["stolen_vehicle"] = Field(description="What every record is.", examples=["stolen_vehicle"])
    source: str = Field(pattern=r"^[A-Za-z0-9._-]{8,128}$", examples=["9f2c...e1"],
                        description="Names the file (its SHA-256): with the line, the idempotency key of each record.")
    defaults: ImportDefaults = Field(default_factory=ImportDefaults)
    records: list[ImportLine] = Field(min_length=1, max_length=MAX_RECORDS)


class LineResult(BaseModel):
    line: int
    status: Literal["accepted", "duplicate", "rejected", "retry"] = Field(
        description="accepted now; duplicate: accepted by an earlier import of the same file; rejected with the "
                    "problems; retry: the same line is being accepted by another request right now.")
    message_id: UUID | None = None
    problems: list[Problem] = Field(default_factory=list)


class ImportResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    retry: int
    results: list[LineResult]


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """Empty cells (CSV) and nulls are absent values; text is stripped."""
    cleaned: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        cleaned[str(key).strip()] = value
    return cleaned


def _problems(error: ValidationError, *, prefix: tuple[str, ...] = ()) -> list[Problem]:
    found = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        path = ".".join([*prefix, *location]) if location else (".".join(prefix) or "<record>")
        found.append(Problem(path=path, reason=item.get("msg", "invalid")))
    return found


def stolen_vehicle_alert(record: dict[str, Any], defaults: ImportDefaults) -> SubmitAlert | list[Problem]:
    """The alert a stolen-vehicle record stands for, or every problem of the record (by column)."""
    values = _clean(record)
    unknown = sorted(set(values) - set(RECORD_FIELDS["stolen_vehicle"]))
    problems = [Problem(path=key, reason=f"unknown column; expected some of: {', '.join(RECORD_FIELDS['stolen_vehicle'])}")
                for key in unknown]
    vehicle: Vehicle | None = None
    try:
        vehicle = Vehicle.model_validate({key: values[key] for key in VEHICLE_FIELDS if key in values})
    except ValidationError as error:
        problems += _problems(error)
    if vehicle is not None and not (vehicle.plate or vehicle.vin):
        problems.append(Problem(path="plate", reason="a stolen vehicle needs a plate or a VIN"))
    if problems:
        return problems
    assert vehicle is not None
    described = " ".join(part for part in (vehicle.colour, vehicle.make, vehicle.model) if part) or "véhicule"
    identified = ", ".join(part for part in (
        f"immatriculé {vehicle.plate}" + (f" ({vehicle.plate_country})" if vehicle.plate_country else "") if vehicle.plate else "",
        f"VIN {vehicle.vin}" if vehicle.vin else "") if part)
    body: dict[str, Any] = {
        "alert_type": "stolen_vehicle",
        "summary": values.get("summary") or f"Véhicule volé: {described}, {identified}.",
        "entities": {"vehicles": [vehicle.model_dump(exclude_none=True)]},
    }
    if "valid_until" in values:
        body["valid_until"] = values["valid_until"]
    try:
        return SubmitAlert.model_validate({"kind": "alert", **defaults.model_dump(exclude_none=True), "body": body})
    except ValidationError as error:
        return [Problem(path=_column_of(item.get("loc", ())), reason=item.get("msg", "invalid")) for item in error.errors()]


def _column_of(location: tuple) -> str:
    """The record's column a problem of the built alert comes from, else the alert's field path."""
    parts = [str(part) for part in location]
    if parts[:1] == ["body"] and len(parts) >= 2 and parts[1] in ALERT_FIELDS:
        return parts[1]
    return ".".join(parts) or "<record>"


CONVERTERS: dict[str, Callable[[dict[str, Any], ImportDefaults], SubmitAlert | list[Problem]]] = {
    "stolen_vehicle": stolen_vehicle_alert,
}


def import_router(
    *,
    platform: str,
    new_uow: Callable[[], UnitOfWork[IntakeStore]],
    message_deps: dict[str, Any],
    authorised: Callable[..., Any],
    refusal: Callable[[str], str | None] = lambda _lane: None,
) -> APIRouter:
    """`authorised` is the dependency that answers with the importing officer (or refuses the request)."""
    router = APIRouter()
    @router.post("/v1/imports", response_model=ImportResult, summary="Import up to 500 records of a file (bulk lane)",
                 responses={**REFUSALS, **UNREADABLE_BODY, 503: {"description": "Cannot accept now; nothing of this request was accepted. "
                                                            "Retry after the Retry-After header's seconds."}})
    async def import_records(
        request: Annotated[ImportRequest, Body()], principal: Annotated[Principal, Depends(authorised)],
    ) -> ImportResult | JSONResponse:
        if (reason := refusal(names.BULK)) is not None:
            return service_unavailable(reason)
        convert = CONVERTERS[request.kind]
        results: list[LineResult] = []
        valid: list[tuple[int, SubmitAlert]] = []
        for number, item in enumerate(request.records, 1):
            if number % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # validating 500 records takes a while: alerts are served in between
            converted = convert(item.record, request.defaults)
            if isinstance(converted, list):
                results.append(LineResult(line=item.line, status="rejected", problems=converted))
            else:
                valid.append((item.line, converted))
        outcomes = await handlers.submit_many(
            [(command, f"{request.source}:{line}") for line, command in valid], uow=new_uow(), platform=platform,
            actor=principal.user, lane=names.BULK, clock=message_deps["clock"], new_id=message_deps["new_id"])
        results += [LineResult(line=line, status=status, message_id=message_id)
                    for (line, _), (status, message_id) in zip(valid, outcomes, strict=True)]
        ordered = sorted(results, key=lambda result: result.line)
        count = lambda status: sum(r.status == status for r in ordered)  # noqa: E731
        return ImportResult(accepted=count("accepted"), duplicates=count("duplicate"), rejected=count("rejected"),
                            retry=count("retry"), results=ordered)

    return router
