"""Schemathesis against each service's OpenAPI, in process (ASGI) over fakes, with a valid token of the right role.

Every operation gets a bounded number of generated requests (valid and invalid): no answer may be a
500, and every answer must match the documented schema, status codes and headers; requests without
the token must be refused (schemathesis' `ignored_auth` check).
"""

from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from shared.contracts.entities import Entities
from shared.messaging.fakes import FakeUnitOfWork
from shared.security.fakes import fake_auth
from services.audit.api import build_api as build_audit_api
from services.audit.fakes import InMemoryAuditLog
from services.enrichment.api import build_api as build_matching_api
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.domain.regional import RegionalMatcher
from services.intake.api import build_api as build_intake_api
from services.intake.fakes import InMemoryIntakeStore

pytestmark = [pytest.mark.security]

EXAMPLES = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
NOT_CHECKED = [
    negative_data_rejection,  # FastAPI parses leniently (until=0.5 is a timestamp; unknown query parameters are ignored)
    positive_data_acceptance,  # `entity` is documented as any object and validated against its entity_type's contract
]


class InMemoryIntakeQueries:
    """What the intake API reads, over the in-memory store."""

    def __init__(self, store: InMemoryIntakeStore) -> None:
        self.store = store

    async def inbox(self, *, kind: str | None, limit: int, before: str | None) -> list[dict[str, Any]]:
        return [{"message_id": str(d.message.message_id), "kind": d.message.kind,
                 "message": d.message.model_dump(mode="json"), "received_at": datetime.now(UTC).isoformat()}
                for d in self.store.inbox.values() if kind in (None, d.message.kind)][:limit]

    async def sent_message(self, message_id: UUID) -> dict[str, Any] | None:
        message = self.store.sent.get(message_id)
        return {"message": message.model_dump(mode="json"), "deliveries": []} if message else None

    async def matches(self, *, limit: int) -> list[dict[str, Any]]:
        return []

    async def rfis(self, *, status: str | None, direction: str | None, now: datetime) -> list[dict[str, Any]]:
        return []

    async def notifications(self, *, limit: int) -> list[dict[str, Any]]:
        return []


def _intake() -> tuple[Any, str]:
    store = InMemoryIntakeStore()
    auth = fake_auth()
    api = build_intake_api(platform="NE", new_uow=lambda: FakeUnitOfWork(store), queries=InMemoryIntakeQueries(store),
                           message_deps={"clock": partial(datetime.now, UTC), "new_id": uuid4},
                           health=lambda: {"broker": True, "database": True}, max_body_bytes=1_048_576, auth=auth)
    return api, auth.tokens.issue("NE", "officer.fuzz", "officer")  # type: ignore[attr-defined]


def _audit() -> tuple[Any, str]:
    log = InMemoryAuditLog()
    auth = fake_auth()
    api = build_audit_api(platform="NE", queries=log, auth=auth, recorder=log)  # type: ignore[arg-type]
    return api, auth.tokens.issue("NE", "auditor.fuzz", "auditor")  # type: ignore[attr-defined]


def _matching() -> tuple[Any, str]:
    matcher = RegionalMatcher()
    wanted = Entities.model_validate({"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985"}],
                                      "vehicles": [{"plate": "AB-1234", "plate_country": "NE"}]})
    matcher.add_message(uuid4(), "NE", [(str(e.entity_type), e.position, e.canonical)
                                        for e in normalise_entities(wanted, reporting_country="NE")])
    matcher.finish_loading()
    auth = fake_auth()
    api = build_matching_api(matcher=matcher, health=lambda: {"broker": True, "database": True},
                             max_body_bytes=1_048_576, auth=auth)
    return api, auth.tokens.issue("HUB", "analyst.fuzz", "analyst")  # type: ignore[attr-defined]


INTAKE, INTAKE_TOKEN = _intake()
AUDIT, AUDIT_TOKEN = _audit()
MATCHING, MATCHING_TOKEN = _matching()
intake_schema = schemathesis.openapi.from_asgi("/openapi.json", INTAKE)
audit_schema = schemathesis.openapi.from_asgi("/openapi.json", AUDIT)
matching_schema = schemathesis.openapi.from_asgi("/openapi.json", MATCHING)


@intake_schema.parametrize()
@EXAMPLES
def test_intake_api_answers_every_generated_request_by_its_contract(case) -> None:  # noqa: ANN001
    case.call_and_validate(headers={"Authorization": f"Bearer {INTAKE_TOKEN}"}, excluded_checks=NOT_CHECKED)


@audit_schema.parametrize()
@EXAMPLES
def test_audit_api_answers_every_generated_request_by_its_contract(case) -> None:  # noqa: ANN001
    case.call_and_validate(headers={"Authorization": f"Bearer {AUDIT_TOKEN}"}, excluded_checks=NOT_CHECKED)


@matching_schema.parametrize()
@EXAMPLES
def test_matching_api_answers_every_generated_request_by_its_contract(case) -> None:  # noqa: ANN001
    case.call_and_validate(headers={"Authorization": f"Bearer {MATCHING_TOKEN}"}, excluded_checks=NOT_CHECKED)
