"""The hub's matching API: query the regional index, compare two records. Analysts' tools call it."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.contracts.common import CountryCode
from shared.contracts.entities import Document, Firearm, Person, Phone, Vehicle
from shared.http import UNREADABLE_BODY, create_app, service_unavailable
from shared.security.http_auth import REFUSALS, ApiAuth, Guard, Principal
from shared.security.roles import Action
from services.enrichment.domain.matching import compare_canonical
from services.enrichment.domain.matching.compare import canonical_of
from services.enrichment.domain.regional import RegionalMatcher

EntityTypeName = Literal["person", "vehicle", "document", "phone", "firearm"]
_ADAPTERS: dict[str, TypeAdapter] = {
    "person": TypeAdapter(Person), "vehicle": TypeAdapter(Vehicle), "document": TypeAdapter(Document),
    "phone": TypeAdapter(Phone), "firearm": TypeAdapter(Firearm),
}
_PERSON_EXAMPLE = {"names": ["محمد ولد أحمد"], "birth_date": "1985", "nationality": "MR"}


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_type: EntityTypeName = Field(description="Kind of record to look for.", examples=["person"])
    entity: dict[str, Any] = Field(description="The record, in the shape of the contract entity of that type.",
                                   examples=[_PERSON_EXAMPLE])
    limit: int = Field(default=10, ge=1, le=100, description="Most candidates to return.")
    reporting_country: CountryCode | None = Field(
        default=None, description="State the record comes from: reads national phone numbers and plates.", examples=["ML"]
    )


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_type: EntityTypeName = Field(description="Kind of both records.", examples=["person"])
    left: dict[str, Any] = Field(description="First record (contract entity shape).", examples=[_PERSON_EXAMPLE])
    right: dict[str, Any] = Field(description="Second record (contract entity shape).",
                                  examples=[{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985"}])
    reporting_country: CountryCode | None = Field(default=None, description="State both records come from.")


class MatchCandidate(BaseModel):
    rank: int = Field(description="1 for the best candidate.")
    platform: str = Field(description="Platform that owns the record.", examples=["NE"])
    message_id: str = Field(description="Message that holds the record.")
    position: int = Field(description="Index of the record in its list in that message.")
    entity_type: str = Field(examples=["person"])
    score: float = Field(ge=0, le=1, description="Match score between 0 and 1.")
    outcome: Literal["hit", "review"] = Field(description="hit, or review by an analyst.")
    explanation: list[str] = Field(description="Which parts matched and how.")


class MatchResponse(BaseModel):
    entity_type: str
    count: int
    candidates: list[MatchCandidate]
    index_records: int = Field(description="Records the regional index holds.")


class CompareResponse(BaseModel):
    entity_type: str
    score: float = Field(ge=0, le=1)
    outcome: Literal["hit", "review", "no_hit"]
    explanation: list[str]


def _entity(entity_type: str, data: dict[str, Any], field: str) -> Any:
    try:
        return _ADAPTERS[entity_type].validate_python(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", field, *item["loc"])} for item in error.errors(include_url=False)]
        ) from None


def _loading(matcher: RegionalMatcher) -> JSONResponse:
    return service_unavailable(f"the regional index is loading ({len(matcher)} records so far)")


def build_api(*, matcher: RegionalMatcher, health: Callable[[], dict[str, bool]], max_body_bytes: int, auth: ApiAuth,
              platform: str = "HUB", catch_up: Callable[[], dict[str, Any]] = dict) -> FastAPI:
    """/v1/match and /v1/match/compare need an analyst's token issued by the hub (`Authorization: Bearer`)."""
    guard = Guard(platform=platform, service="enrichment", auth=auth)
    app = create_app("PCMS matching — HUB", max_body_bytes=max_body_bytes, guard=guard)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks = {**health(), "index": matcher.ready}
        status = 200 if all(checks.values()) else 503
        return JSONResponse({"status": "ok" if status == 200 else "degraded", "checks": checks,
                             "index": {"records": len(matcher), "messages": matcher.messages,
                                       "state": "ready" if matcher.ready else "loading", "catch_up": catch_up()}},
                            status_code=status)

    @app.post("/v1/match", response_model=MatchResponse,
              responses={**REFUSALS, **UNREADABLE_BODY,
                         503: {"description": "The index is still loading; retry after Retry-After seconds."}})
    async def match(
        request: MatchRequest, _: Annotated[Principal, Depends(guard.require(Action.MATCH))],
    ) -> MatchResponse | JSONResponse:
        """Ranked candidates from the regional index (outcome hit or review), best first."""
        entity = _entity(request.entity_type, request.entity, "entity")
        if not matcher.ready:
            return _loading(matcher)
        entity_type, canonical = canonical_of(entity, request.reporting_country)
        found = matcher.candidates(str(entity_type), canonical, limit=request.limit)
        candidates = [
            MatchCandidate(rank=rank, platform=c.ref.platform, message_id=c.ref.message_id, position=c.ref.position,
                           entity_type=c.entity_type, score=c.score, outcome=c.outcome, explanation=c.explanation)
            for rank, c in enumerate(found, start=1)
        ]
        return MatchResponse(entity_type=request.entity_type, count=len(candidates), candidates=candidates,
                             index_records=len(matcher))

    @app.post("/v1/match/compare", response_model=CompareResponse, responses={**REFUSALS, **UNREADABLE_BODY})
    async def compare(
        request: CompareRequest, _: Annotated[Principal, Depends(guard.require(Action.COMPARE))],
    ) -> CompareResponse:
        """Score two records of one type against each other, with the explanation."""
        left = _entity(request.entity_type, request.left, "left")
        right = _entity(request.entity_type, request.right, "right")
        entity_type, left_canonical = canonical_of(left, request.reporting_country)
        _, right_canonical = canonical_of(right, request.reporting_country)
        result = compare_canonical(entity_type, left_canonical, right_canonical)
        return CompareResponse(entity_type=request.entity_type, score=round(result.score, 4), outcome=result.outcome,
                               explanation=result.explanation)

    return app
