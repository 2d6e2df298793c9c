"""Issue 3 end to end: a report in Arabic script hits a Latin-script alert of another state at the hub."""

import asyncio
from uuid import uuid4

import asyncpg
import httpx
import pytest

from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.ports import MessageToIndex
from services.enrichment.settings import EnrichmentSettings
from shared.contracts.entities import Entities
from tests.e2e.test_exchange import eventually

pytestmark = pytest.mark.e2e

ALERT = {
    "kind": "alert", "submitted_by": "police", "priority": "urgent",
    "evaluation": {"source": "B", "information": "2"},
    "body": {"alert_type": "wanted_person", "summary": "Recherché pour attaque armée.",
             "entities": {"persons": [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985", "nationality": "MR"}]}},
}
REPORT = {
    "kind": "report", "submitted_by": "gendarmerie", "language": "ar",
    "evaluation": {"source": "B", "information": "3"},
    "body": {"crime_category": "terrorism", "summary": "شخص مشبوه عند نقطة تفتيش غاو.",
             "entities": {"persons": [{"names": ["محمد ولد أحمد"], "birth_date": "1985"}]}},
}


def matching_api(fed) -> httpx.Client:
    port = fed.federation.hub.api_port + EnrichmentSettings.model_fields["api_port_offset"].default
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                        headers={"Authorization": f"Bearer {fed.token(fed.federation.hub.code, 'analyst')}"})


def test_an_arabic_script_report_hits_a_latin_script_alert_and_the_index_answers_arabic_queries(running_federation):
    fed = running_federation
    with fed.api("NE") as ne, fed.api("ML") as ml, fed.api("HUB") as hub, matching_api(fed) as matching:
        assert matching.get("/healthz").json()["index"]["state"] == "ready"
        accepted = ne.post("/v1/messages", json=ALERT)
        assert accepted.status_code == 202, accepted.text
        alert_id = accepted.json()["message_id"]
        eventually(lambda: any(i["message_id"] == alert_id for i in hub.get("/v1/inbox").json()["items"]),
                   what="the alert at the hub")

        accepted = ml.post("/v1/messages", json=REPORT)
        assert accepted.status_code == 202, accepted.text
        report_id = accepted.json()["message_id"]
        item = eventually(lambda: next((i for i in hub.get("/v1/inbox").json()["items"] if i["message_id"] == report_id),
                                       None), what="the report in the hub's inbox")
        person_hits = [h for h in item["hits"] if h["entity_type"] == "person" and h["matched_message_id"] == alert_id]
        assert person_hits, item["hits"]
        [hit] = person_hits
        assert (hit["matched_platform"], hit["outcome"], hit["position"]) == ("NE", "hit", 0)
        assert any("across scripts" in line for line in hit["explanation"]), hit["explanation"]

        def notified(client) -> list:  # noqa: ANN001
            return [n for n in client.get("/v1/matches").json()["items"] if n["message_id"] == report_id]

        for owner, client in (("NE", ne), ("ML", ml), ("HUB", hub)):
            [notice] = eventually(lambda client=client: notified(client), what=f"hit notification at {owner}")
            assert any(h["matched_message_id"] == alert_id for h in notice["hits"]), notice

        found = matching.post("/v1/match", json={"entity_type": "person", "limit": 5,
                                                 "entity": {"names": ["محمد ولد احمد"], "birth_date": "1985"}})
        assert found.status_code == 200, found.text
        candidates = found.json()["candidates"]
        assert {c["message_id"] for c in candidates} == {alert_id, report_id}  # the report is indexed too
        [alert_person] = [c for c in candidates if c["message_id"] == alert_id]
        assert (alert_person["platform"], alert_person["position"], alert_person["outcome"]) == ("NE", 0, "hit")

        compared = matching.post("/v1/match/compare", json={"entity_type": "person", "left": REPORT["body"]["entities"]["persons"][0],
                                                            "right": ALERT["body"]["entities"]["persons"][0]})
        assert compared.json()["outcome"] == "hit"
        bad = matching.post("/v1/match", json={"entity_type": "person", "entity": {"names": []}})
        assert bad.status_code == 422 and [p["path"] for p in bad.json()["problems"]] == ["entity.names"]


def test_a_message_stored_at_the_hub_without_reaching_the_running_matcher_is_found_after_a_catch_up_round(
        running_federation):
    """As after a COMMIT the database carried out just before it went away: the rows are stored, the process's
    in-memory index was never fed, and the message's redelivery is a duplicate of its own claim."""
    fed = running_federation
    lost = uuid4()

    async def store_behind_the_matchers_back() -> None:
        connection = await asyncpg.connect(fed.database("HUB"))
        try:
            entities = normalise_entities(Entities.model_validate(ALERT["body"]["entities"]), reporting_country="NE")
            await AsyncpgRegionalIndex(connection).index_many([MessageToIndex(lost, "NE", "H0", entities)])
        finally:
            await connection.close()

    with matching_api(fed) as matching:
        assert matching.get("/healthz").json()["index"]["state"] == "ready"
        asyncio.run(store_behind_the_matchers_back())

        def found() -> list:
            answer = matching.post("/v1/match", json={"entity_type": "person", "limit": 5,
                                                      "entity": REPORT["body"]["entities"]["persons"][0]})
            assert answer.status_code == 200, answer.text
            return [c for c in answer.json()["candidates"] if c["message_id"] == str(lost)]

        [candidate] = eventually(found, what="the stored message in the running matcher (PCMS_CATCH_UP_SECONDS=1)")
        assert (candidate["platform"], candidate["outcome"]) == ("NE", "hit")
        assert "regional_index_caught_up" in (fed.log_dir / "enrichment-HUB.log").read_text()
        rounds = matching.get("/healthz").json()["index"]["catch_up"]
        assert rounds["messages_added"] == 1 and rounds["rounds"] >= 1 and rounds["last_error"] is None
