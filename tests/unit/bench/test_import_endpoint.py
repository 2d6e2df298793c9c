"""POST /v1/imports with the in-memory unit of work: per-line results, bulk lane, idempotent per file line."""

from datetime import UTC, datetime
from functools import partial
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from shared.messaging.fakes import FakeUnitOfWork
from shared.security.fakes import fake_auth
from services.intake.api import build_api
from services.intake.fakes import InMemoryIntakeStore
from services.intake.imports import ImportDefaults, stolen_vehicle_alert

pytestmark = pytest.mark.unit


def api(refusal=lambda _lane: None):  # noqa: ANN001, ANN201
    uow = FakeUnitOfWork(InMemoryIntakeStore())
    auth = fake_auth()
    app = build_api(platform="NE", new_uow=lambda: uow, queries=None,  # type: ignore[arg-type]
                    message_deps={"clock": partial(datetime.now, UTC), "new_id": uuid4},
                    health=lambda: {}, max_body_bytes=1_048_576, auth=auth, refusal=refusal)
    token = auth.tokens.issue("NE", "officer.test", "officer")  # type: ignore[attr-defined]
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}), uow


REQUEST = {"kind": "stolen_vehicle", "source": "0123456789abcdef", "records": [
    {"line": 2, "record": {"plate": "AB-1234-NE", "plate_country": "NE", "make": "Toyota", "model": "Hilux"}},
    {"line": 3, "record": {"plate": "", "vin": "SHORT"}},
    {"line": 4, "record": {"make": "Toyota", "color": "blanc"}},
]}


def test_each_line_is_answered_and_valid_ones_go_on_the_bulk_lane():
    client, uow = api()
    response = client.post("/v1/imports", json=REQUEST)
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (1, 2, 0)
    results = {r["line"]: r for r in body["results"]}
    assert results[2]["status"] == "accepted" and results[2]["message_id"]
    assert results[3]["problems"] == [{"path": "vin", "reason": "String should have at least 11 characters"}]
    assert {p["path"] for p in results[4]["problems"]} == {"color", "plate"}
    message = next(m for m in uow.published if m.type == "pcms.message")
    assert message.routing_key == "message.bulk.alert.routine" and message.priority == 1


def test_the_same_file_line_is_accepted_once():
    client, uow = api()
    first = client.post("/v1/imports", json=REQUEST).json()
    again = client.post("/v1/imports", json=REQUEST).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert again["results"][0]["message_id"] == first["results"][0]["message_id"]
    assert sum(m.type == "pcms.message" for m in uow.published) == 1


def test_backpressure_refuses_the_whole_request_and_too_many_records_are_refused():
    client, _ = api(refusal=lambda _lane: "20001 messages wait to be published")
    assert client.post("/v1/imports", json=REQUEST).status_code == 503
    client, _ = api()
    many = {**REQUEST, "records": [{"line": i, "record": {"plate": f"P{i}"}} for i in range(1, 502)]}
    assert client.post("/v1/imports", json=many).status_code == 422


def test_an_alert_is_accepted_while_only_imported_records_wait_to_be_published():
    waiting = {"bulk": 20_001, "routine": 0, "urgent": 0}
    client, _ = api(refusal=lambda lane: f"{waiting[lane]} messages wait" if waiting[lane] > 20_000 else None)
    assert client.post("/v1/imports", json=REQUEST).status_code == 503
    alert = {"kind": "alert", "submitted_by": "police", "evaluation": {"source": "A", "information": "1"},
             "body": {"alert_type": "stolen_vehicle", "summary": "Hilux taken at gunpoint.",
                      "entities": {"vehicles": [{"plate": "AB-1234-NE", "make": "Toyota"}]}}}
    assert client.post("/v1/messages", json=alert).status_code == 202


def test_a_record_becomes_a_stolen_vehicle_alert_with_one_vehicle():
    alert = stolen_vehicle_alert({"vin": " JTEBU11F670123456 ", "make": "Toyota", "colour": "blanc"}, ImportDefaults())
    assert not isinstance(alert, list)
    assert alert.body.alert_type == "stolen_vehicle" and alert.evaluation is not None
    assert [v.vin for v in alert.body.entities.vehicles] == ["JTEBU11F670123456"]
    assert "VIN JTEBU11F670123456" in alert.body.summary
