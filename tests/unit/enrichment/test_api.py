"""The hub's matching API, in process, over the in-memory matcher."""

from uuid import UUID

import httpx
import pytest

from shared.contracts.entities import Entities
from shared.security.fakes import fake_auth
from services.enrichment.api import build_api
from services.enrichment.catch_up import CatchUpRounds
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.domain.regional import RegionalMatcher

pytestmark = pytest.mark.unit

ALERT = UUID("00000000-0000-4000-8000-00000000000a")
WANTED = {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"}],
          "vehicles": [{"plate": "AB-1234", "plate_country": "NE"}]}


def matcher(*, ready: bool = True) -> RegionalMatcher:
    built = RegionalMatcher()
    entities = normalise_entities(Entities.model_validate(WANTED), reporting_country="NE")
    built.add_message(ALERT, "NE", [(str(e.entity_type), e.position, e.canonical) for e in entities])
    if ready:
        built.finish_loading()
    return built


def client(built: RegionalMatcher | None = None, catch_up: CatchUpRounds | None = None) -> httpx.AsyncClient:
    auth = fake_auth()
    api = build_api(matcher=built or matcher(), health=lambda: {"broker": True, "database": True}, max_body_bytes=65_536,
                    auth=auth, catch_up=(catch_up or CatchUpRounds()).view)
    token = auth.tokens.issue("HUB", "analyst.test", "analyst")  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://matching",
                             headers={"Authorization": f"Bearer {token}"})


async def test_match_finds_a_latin_script_record_from_an_arabic_query() -> None:
    response = await client().post("/v1/match", json={"entity_type": "person", "limit": 5,
                                                "entity": {"names": ["محمد ولد أحمد"], "birth_date": "1985"}})
    assert response.status_code == 200, response.text
    body = response.json()
    [top] = body["candidates"]
    assert (top["rank"], top["platform"], top["message_id"], top["position"], top["outcome"]) == (
        1, "NE", str(ALERT), 0, "hit")
    assert top["score"] >= 0.82 and any("across scripts" in line for line in top["explanation"])
    assert (body["count"], body["index_records"]) == (1, 2)


async def test_match_other_types_by_identifier() -> None:
    body = (await client().post("/v1/match", json={"entity_type": "vehicle", "entity": {"plate": "ab 1234"}})).json()
    assert [(c["entity_type"], c["outcome"]) for c in body["candidates"]] == [("vehicle", "review")]


async def test_compare_scores_two_records_with_an_explanation() -> None:
    response = await client().post("/v1/match/compare", json={
        "entity_type": "person", "left": {"names": ["محمد ولد أحمد"], "birth_date": "1985"},
        "right": {"names": ["Mohamed Ould Ahmed"], "birth_date": "1950"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] in ("review", "no_hit") and "birth years differ (1985 vs 1950)" in body["explanation"]


async def test_bad_input_gets_422_with_the_field_path() -> None:
    api = client()
    bad_entity = await api.post("/v1/match", json={"entity_type": "person", "entity": {"names": [], "birth_date": "85"}})
    assert bad_entity.status_code == 422
    assert {p["path"] for p in bad_entity.json()["problems"]} == {"entity.names", "entity.birth_date"}
    bad_type = await api.post("/v1/match", json={"entity_type": "ship", "entity": {}})
    assert [p["path"] for p in bad_type.json()["problems"]] == ["entity_type"]
    bad_right = await api.post("/v1/match/compare", json={"entity_type": "phone", "left": {"number": "90123456"},
                                                    "right": {"numero": "1"}})
    assert bad_right.status_code == 422
    assert {p["path"] for p in bad_right.json()["problems"]} == {"right.number", "right.numero"}
    too_few = await api.post("/v1/match", json={"entity_type": "person", "entity": {"names": ["A"]}, "limit": 0})
    assert [p["path"] for p in too_few.json()["problems"]] == ["limit"]


async def test_while_the_index_loads_health_and_match_say_so() -> None:
    loading = client(matcher(ready=False))
    health = await loading.get("/healthz")
    assert health.status_code == 503 and health.json()["index"]["state"] == "loading"
    response = await loading.post("/v1/match", json={"entity_type": "person", "entity": {"names": ["Issa"]}})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert (await client().get("/healthz")).json()["status"] == "ok"


async def test_health_shows_what_the_catch_up_rounds_did() -> None:
    rounds = CatchUpRounds(rounds=12, messages_added=1, last_error="ConnectionResetError()")
    health = (await client(catch_up=rounds).get("/healthz")).json()
    assert health["status"] == "ok"  # a failed round is retried by the next: the index still answers
    assert health["index"]["catch_up"] == {"rounds": 12, "messages_added": 1, "last_round_at": None,
                                           "last_error": "ConnectionResetError()"}
