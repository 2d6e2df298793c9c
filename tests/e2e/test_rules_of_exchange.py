"""The rules of exchange end to end: requests with deadlines, alert updates, membership changes, priority lanes."""

import asyncio
import signal
import time
from datetime import UTC, datetime
from uuid import uuid4

import aio_pika
import asyncpg
import pytest

from shared.contracts.messages import SUBMIT_ADAPTER, stamp
from shared.contracts.registry import MESSAGE
from shared.messaging import names
from tests.e2e.test_exchange import WANTED, eventually, inbox_ids

pytestmark = pytest.mark.e2e


def deliveries(client, message_id: str) -> dict[str, tuple[str, str | None]]:  # noqa: ANN001
    return {d["recipient"]: (d["state"], d["reason"]) for d in client.get(f"/v1/messages/{message_id}").json()["deliveries"]}


def decided(ne) -> dict[str, tuple[str, str | None]]:  # noqa: ANN001
    """Submits an alert at NE and returns the delivery states once routing has decided (ML always receives)."""
    alert_id = ne.post("/v1/messages", json=WANTED).json()["message_id"]
    return eventually(lambda: (states := deliveries(ne, alert_id)).get("ML") and states, what="a routing decision")


async def queue_depth(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


def test_an_rfi_is_open_at_the_addressed_platform_until_answered_and_the_requester_sees_the_answer(running_federation):
    fed = running_federation
    rfi = {"kind": "rfi", "submitted_by": "police", "priority": "urgent", "recipients": ["ML"],
           "body": {"question": "Connaissez-vous Oumarou Issoufou, né en 1990 ?"}}
    with fed.api("NE") as ne, fed.api("ML") as ml:
        rfi_id = ne.post("/v1/messages", json=rfi).json()["message_id"]
        sent = ne.get(f"/v1/messages/{rfi_id}").json()["message"]
        created, deadline = datetime.fromisoformat(sent["created_at"]), datetime.fromisoformat(sent["body"]["deadline"])
        assert (deadline - created).total_seconds() == 8 * 3600, "urgent: 8 hours"

        def open_at_ml() -> list:
            return ml.get("/v1/rfis", params={"status": "open", "direction": "received"}).json()["items"]

        [received] = eventually(open_at_ml, what="the RFI open at ML")
        assert (received["message_id"], received["counterpart"]) == (rfi_id, "NE")
        eventually(lambda: ne.get("/v1/rfis", params={"status": "open", "direction": "sent"}).json()["items"],
                   what="the RFI open at NE, waiting for ML")

        answer = {"kind": "rfi_response", "submitted_by": "police", "recipients": ["NE"], "in_reply_to": rfi_id,
                  "body": {"answer": "Connu : interpellé à Gao en 2021."}}
        assert ml.post("/v1/messages", json=answer).status_code == 202
        assert ml.get("/v1/rfis", params={"status": "answered", "direction": "received"}).json()["count"] == 1
        [answered] = eventually(
            lambda: ne.get("/v1/rfis", params={"status": "answered", "direction": "sent"}).json()["items"],
            what="the answer closes the RFI at NE")
        assert answered["counterpart"] == "ML"
        eventually(lambda: any(i["kind"] == "rfi_response" for i in ne.get("/v1/inbox").json()["items"]),
                   what="the answer in NE's inbox")


def test_an_alert_update_and_cancellation_change_what_recipients_see(running_federation):
    fed = running_federation
    with fed.api("NE") as ne, fed.api("ML") as ml:
        alert_id = ne.post("/v1/messages", json=WANTED).json()["message_id"]

        def state_at_ml() -> str | None:
            item = next((i for i in ml.get("/v1/inbox", params={"kind": "alert"}).json()["items"]
                         if i["message_id"] == alert_id), None)
            return item and item["alert_state"]

        assert eventually(state_at_ml, what="alert at ML") == "active"
        update = {**WANTED, "body": {**WANTED["body"], "summary": "Mise à jour : vu à Ménaka.", "supersedes": alert_id}}
        update_id = ne.post("/v1/messages", json=update).json()["message_id"]
        eventually(lambda: state_at_ml() == "updated", what="the original shows as updated")
        cancel = {**WANTED, "body": {**WANTED["body"], "summary": "Annulée : interpellé.", "supersedes": update_id,
                                     "cancelled": True}}
        ne.post("/v1/messages", json=cancel)
        eventually(lambda: any(i["message_id"] == update_id and i["alert_state"] == "cancelled"
                               for i in ml.get("/v1/inbox", params={"kind": "alert"}).json()["items"]),
                   what="the update shows as cancelled")


def test_a_suspended_members_traffic_is_held_and_delivered_when_it_is_reinstated(running_federation):
    fed = running_federation  # TD is suspended in this federation
    with fed.api("NE") as ne:
        alert_id = ne.post("/v1/messages", json=WANTED).json()["message_id"]
        eventually(lambda: deliveries(ne, alert_id).get("TD", ("",))[0] == "held", what="TD's copy held at the hub")
        assert asyncio.run(queue_depth(fed.amqp_url, names.held_queue("TD"))) == 1

        done = fed.pcms("members", "reinstate", "TD", "--reason", "test")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 held message(s) delivered" in done.stdout
        assert asyncio.run(queue_depth(fed.amqp_url, names.held_queue("TD"))) == 0
        assert asyncio.run(queue_depth(fed.amqp_url, names.inbox_queue("TD", names.URGENT))) == 1

        def routed_to_td() -> bool:
            return decided(ne).get("TD", ("",))[0] == "routed"

        eventually(routed_to_td, within=30, what="new alerts routed to the reinstated member")


def test_a_withdrawn_member_receives_nothing_new_and_its_publishes_are_refused(running_federation):
    fed = running_federation
    done = fed.pcms("members", "withdraw", "MR", "--reason", "left the platform")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"broker user {fed.federation.broker_user('MR')} deleted" in done.stdout  # its services can no longer log in
    with fed.api("NE") as ne, fed.api("MR") as mr:
        def refused_for_mr() -> bool:
            return decided(ne).get("MR") == ("not_routed", "member is withdrawn")

        eventually(refused_for_mr, within=30, what="MR refused once the hub follows the federation")
        mr_message = mr.post("/v1/messages", json=WANTED).json()["message_id"]

    async def outbox_error() -> str | None:
        connection = await asyncpg.connect(fed.database("MR"))
        try:
            return await connection.fetchval(
                "SELECT last_error FROM outbox WHERE message_id = $1 AND sent_at IS NULL", mr_message)
        finally:
            await connection.close()

    error = eventually(lambda: (e := asyncio.run(outbox_error())) and ("PublishError" in e or "BrokerUnavailable" in e) and e,
                       what="MR's publish refused: its broker user is gone (or, before that, unroutable)")
    assert "BrokerUnavailable" in error or "NO_ROUTE" in error or "PublishError" in error
    events = asyncio.run(_membership_events(fed))
    assert ("MR", "withdraw", "active", "withdrawn") in events


def test_a_member_is_admitted_without_a_code_change(running_federation):
    fed = running_federation
    done = fed.pcms("members", "admit", "SN", "--name", "Senegal", "--city", "Dakar", "--country", "SN",
                    "--api-port", "18999")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"broker user {fed.federation.broker_user('SN')} provisioned" in done.stdout
    assert asyncio.run(queue_depth(fed.amqp_url, names.inbox_queue("SN", names.URGENT))) == 0
    with fed.api("NE") as ne:
        def routed_to_sn() -> bool:
            return decided(ne).get("SN", ("",))[0] == "routed"

        eventually(routed_to_sn, within=30, what="alerts routed to the new member")
    # admitting SN re-provisions the broker's users, which drops the hub's connections: a copy whose publish
    # failed then is retried after a backoff, and the routing decision (sent after its linger) may overtake it
    eventually(lambda: asyncio.run(queue_depth(fed.amqp_url, names.inbox_queue("SN", names.URGENT))) >= 1,
               within=10, what="the copy for the new member in its inbox queue")


def test_an_alert_submitted_behind_ten_thousand_routine_reports_is_delivered_before_them(running_federation):
    fed = running_federation
    enrichment = fed.process("enrichment", "HUB")
    enrichment.process.send_signal(signal.SIGTERM)
    enrichment.process.wait(30)
    report_ids = asyncio.run(_queue_routine_reports(fed.amqp_url, 10_000))
    with fed.api("NE") as ne, fed.api("ML") as ml:
        alert_id = ne.post("/v1/messages", json=WANTED).json()["message_id"]
        eventually(lambda: asyncio.run(queue_depth(fed.amqp_url, names.hub_ingress_queue("NE", names.URGENT))) == 1,
                   what="the alert queued behind the reports")
        fed.restart("enrichment", "HUB")
        eventually(lambda: alert_id in inbox_ids(ml), within=60, what="the alert at ML")

    async def reports_already_at_ml() -> int:
        connection = await asyncpg.connect(fed.database("ML"))
        try:
            return await connection.fetchval(
                "SELECT count(*) FROM inbox_items WHERE message_id = ANY($1::uuid[]) AND received_at <= "
                "(SELECT received_at FROM inbox_items WHERE message_id = $2)", report_ids, alert_id)
        finally:
            await connection.close()

    overtaken = asyncio.run(reports_already_at_ml())
    print(f"\n[lanes] reports delivered before the alert: {overtaken} of {len(report_ids)}")
    assert overtaken < len(report_ids) // 10


async def _queue_routine_reports(amqp_url: str, count: int) -> list[str]:
    """What NE's outbox relay would publish for `count` routine reports to ML, queued at the hub's ingress."""
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "report", "submitted_by": "customs", "recipients": ["ML"], "evaluation": {"source": "B", "information": "3"},
        "body": {"crime_category": "smuggling", "summary": "Contrebande de carburant à Assamaka."}})
    ids = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.platform_exchange("NE"))
        batch = []
        for _ in range(count):
            report = stamp(command, message_id=uuid4(), origin="NE", created_at=datetime.now(UTC))
            ids.append(str(report.message_id))
            batch.append(exchange.publish(
                aio_pika.Message(report.model_dump_json().encode(), type=MESSAGE, message_id=ids[-1],
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=names.message_key("report", "routine", names.ROUTINE)))
            if len(batch) == 500:
                await asyncio.gather(*batch)
                batch = []
        await asyncio.gather(*batch)
    return ids


async def _membership_events(fed) -> set[tuple]:  # noqa: ANN001
    connection = await asyncpg.connect(fed.database("HUB"))
    try:
        rows = await connection.fetch("SELECT code, action, from_status, to_status FROM membership_events")
        return {tuple(row) for row in rows}
    finally:
        await connection.close()


_ = time


def test_an_alert_expires_at_its_valid_until_in_the_recipients_inbox(running_federation):
    from datetime import timedelta

    fed = running_federation
    until = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    with fed.api("NE") as ne, fed.api("ML") as ml:
        alert_id = ne.post("/v1/messages", json={**WANTED, "body": {**WANTED["body"], "valid_until": until}}).json()[
            "message_id"]

        def state() -> str | None:
            item = next((i for i in ml.get("/v1/inbox", params={"kind": "alert"}).json()["items"]
                         if i["message_id"] == alert_id), None)
            return item and item["alert_state"]

        assert eventually(state, what="alert at ML") == "active"
        eventually(lambda: state() == "expired", what="the alert expired at valid_until")
