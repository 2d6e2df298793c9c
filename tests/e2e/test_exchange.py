"""One alert, five platforms, the hub: real processes over HTTP, RabbitMQ and PostgreSQL."""

import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import aio_pika
import httpx
import pytest

from shared.contracts.registry import MESSAGE
from shared.messaging import names

pytestmark = pytest.mark.e2e

WANTED = {
    "kind": "alert",
    "submitted_by": "police",
    "priority": "urgent",
    "evaluation": {"source": "B", "information": "2"},
    "body": {
        "alert_type": "wanted_person",
        "summary": "Recherché pour l'attaque du poste de Inates.",
        "entities": {
            "persons": [{"names": ["Mohamed Ould Ahmed", "محمد ولد أحمد"], "birth_date": "1985", "nationality": "MR",
                         "documents": [{"type": "passport", "number": "B0987654", "issuing_country": "MR"}]}],
            "phones": [{"number": "90 12 34 56"}],
        },
    },
}


def eventually(probe: Callable[[], Any], *, within: float = 20.0, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


def inbox_ids(client: httpx.Client) -> set[str]:
    return {item["message_id"] for item in client.get("/v1/inbox").json()["items"]}


def test_an_alert_reaches_every_other_active_platform_and_the_hub_with_a_complete_audit_trail(running_federation):
    fed = running_federation
    with fed.api("NE") as ne:
        accepted = ne.post("/v1/messages", json=WANTED)
        assert accepted.status_code == 202, accepted.text
        message_id = accepted.json()["message_id"]

        for code in ("ML", "MR", "HUB"):
            with fed.api(code) as inbox:
                eventually(lambda: message_id in inbox_ids(inbox), what=f"alert in the inbox of {code}")
        assert message_id not in inbox_ids(ne), "the origin does not receive its own alert"

        def deliveries() -> dict[str, str]:
            return {d["recipient"]: d["state"] for d in ne.get(f"/v1/messages/{message_id}").json()["deliveries"]}

        eventually(lambda: {k: v for k, v in deliveries().items() if v == "received"}.keys() == {"ML", "MR", "HUB"},
                   what="receipts from ML, MR and HUB")
        assert deliveries()["BF"] == "not_routed" and deliveries()["TD"] == "held"
        sent = ne.get(f"/v1/messages/{message_id}").json()
        reasons = {d["recipient"]: d["reason"] for d in sent["deliveries"]}
        assert reasons["BF"] == "member is withdrawn" and reasons["TD"] == "member is suspended: held at the hub"

    with fed.audit_api("HUB") as audit:
        def trail() -> list[str]:
            response = audit.get(f"/v1/audit/messages/{message_id}")
            return response.json()["hops"] if response.status_code == 200 else []

        expected = ["accepted", "published", "enriched", "routed", "delivered", "delivered", "delivered"]
        hops = eventually(lambda: sorted(trail()) == sorted(expected) and trail(), what="complete audit trail")
        entries = audit.get(f"/v1/audit/messages/{message_id}").json()["entries"]
        assert {e["platform"] for e in entries if e["hop"] == "delivered"} == {"ML", "MR", "HUB"}
        assert hops[:2] == ["accepted", "published"]
    with fed.audit_api("NE") as ne_audit:
        eventually(lambda: ne_audit.get(f"/v1/audit/messages/{message_id}").status_code == 200,
                   what="NE's own audit of what it sent")


def test_a_hit_links_a_report_to_an_earlier_alert_of_another_state(running_federation):
    fed = running_federation
    passport = f"P{uuid4().int % 10**8:08d}"
    alert = {**WANTED, "body": {**WANTED["body"], "entities": {"persons": [
        {"names": ["Oumarou Issoufou"], "documents": [{"type": "passport", "number": passport, "issuing_country": "NE"}]}]}}}
    with fed.api("MR") as mr, fed.api("ML") as ml:
        alert_id = mr.post("/v1/messages", json=alert).json()["message_id"]
        eventually(lambda: alert_id in inbox_ids(ml), what="alert at ML")
        report = {"kind": "report", "submitted_by": "gendarmerie", "evaluation": {"source": "A", "information": "1"},
                  "body": {"crime_category": "migrant_smuggling", "summary": "Contrôle à Gao.",
                           "entities": {"documents": [{"type": "passport", "number": passport, "issuing_country": "NE"}]}}}
        report_id = ml.post("/v1/messages", json=report).json()["message_id"]
    with fed.api("HUB") as hub:
        item = eventually(lambda: next((i for i in hub.get("/v1/inbox").json()["items"] if i["message_id"] == report_id), None),
                          what="report at the hub")
        assert any(h["matched_message_id"] == alert_id and h["matched_platform"] == "MR" and h["outcome"] == "hit"
                   for h in item["hits"]), item["hits"]


def test_an_officer_acknowledgement_reaches_the_originator(running_federation):
    fed = running_federation
    with fed.api("NE") as ne, fed.api("ML") as ml:
        message_id = ne.post("/v1/messages", json=WANTED).json()["message_id"]
        eventually(lambda: message_id in inbox_ids(ml), what="alert at ML")
        assert ml.post(f"/v1/messages/{message_id}/ack", json={"state": "read"}).status_code == 202
        eventually(lambda: any(d["recipient"] == "ML" and d["state"] == "read"
                               for d in ne.get(f"/v1/messages/{message_id}").json()["deliveries"]),
                   what="ML's read acknowledgement at NE")
        assert ml.post(f"/v1/messages/{uuid4()}/ack", json={"state": "read"}).status_code == 404


def test_bad_http_input_gets_the_field_path_and_the_reason(running_federation):
    with running_federation.api("NE") as ne:
        bad = ne.post("/v1/messages", json={**WANTED, "evaluation": {"source": "Z", "information": "2"}})
        assert bad.status_code == 422
        assert any(p["path"].endswith("evaluation.source") for p in bad.json()["problems"]), bad.json()
        missing = ne.post("/v1/messages", json={k: v for k, v in WANTED.items() if k != "evaluation"})
        assert missing.status_code == 422 and "evaluation is required" in missing.text
        huge = ne.post("/v1/messages", content=b"{" + b" " * 2_000_000 + b"}", headers={"content-type": "application/json"})
        assert huge.status_code == 413


async def test_a_malformed_broker_message_is_quarantined_and_audited_without_blocking_the_queue(running_federation):
    fed = running_federation
    bad_id = str(uuid4())
    connection = await aio_pika.connect(fed.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.platform_exchange("NE"))
        await exchange.publish(aio_pika.Message(b'{"kind": "alert", "body": "not a body"}', type=MESSAGE,
                                                message_id=bad_id), routing_key="message.urgent.alert.urgent")
        queue = await channel.get_queue(names.quarantine_queue("HUB"), ensure=False)

        async def quarantined():
            message = await queue.get(no_ack=True, fail=False)
            return message

        import asyncio

        deadline = asyncio.get_running_loop().time() + 20
        found = None
        while found is None and asyncio.get_running_loop().time() < deadline:
            found = await quarantined()
            await asyncio.sleep(0.1)
        assert found is not None, "nothing quarantined"
        assert found.message_id == bad_id and found.headers["x-quarantine-reason"]
    with fed.audit_api("HUB") as audit:
        eventually(lambda: audit.get(f"/v1/audit/messages/{bad_id}").status_code == 200, what="quarantine audited")
        assert audit.get(f"/v1/audit/messages/{bad_id}").json()["hops"] == ["quarantined"]
    with fed.api("NE") as ne, fed.api("ML") as ml:
        message_id = ne.post("/v1/messages", json=WANTED).json()["message_id"]
        eventually(lambda: message_id in inbox_ids(ml), what="traffic flows after the poison message")
