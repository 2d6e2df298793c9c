"""The routing handler at the hub, driven with the in-memory unit of work and routing store."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from shared.contracts.events import Enrichment, Hit, HopRecorded, MessageDispatched, MessageEnriched, RoutingDecided
from shared.contracts.identity import derived_id
from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.contracts.registry import HOP_RECORDED, MESSAGE_DISPATCHED, ROUTING_DECIDED, parse
from shared.federation import Federation
from shared.messaging import names
from shared.messaging.batch_end import batch_end
from shared.messaging.fakes import FakeUnitOfWork
from shared.messaging.outgoing import OutgoingMessage
from services.routing.domain.decisions import RoutingDecision
from services.routing.fakes import InMemoryRoutingStore
from services.routing.handlers import CONSUMER, when_message_enriched_route_it
from shared.policy import load_policy

POLICY = load_policy()

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, 1, tzinfo=UTC)
ALERT_ID = UUID("00000000-0000-4000-8000-000000000001")
RESPONSE_ID = UUID("00000000-0000-4000-8000-000000000002")
OTHER_ID = UUID("00000000-0000-4000-8000-0000000000ff")
MEMBERS = ("MR", "ML", "BF", "NE", "TD")


def clock() -> datetime:
    return NOW


def federation(**statuses: str) -> Federation:
    platforms = [{"code": "HUB", "role": "hub", "name": "Regional Platform", "city": "Nouakchott", "country": "MR",
                  "status": "active", "api_port": 8000}]
    platforms += [{"code": code, "role": "member", "name": code, "city": code, "country": code,
                   "status": statuses.get(code, "active"), "api_port": 8001 + i} for i, code in enumerate(MEMBERS)]
    return Federation.model_validate({"version": 1, "platforms": platforms})


def message(kind: str = "alert", *, message_id: UUID = ALERT_ID, origin: str = "NE", **fields: Any) -> Message:
    bodies = {"alert": {"alert_type": "wanted_person", "summary": "Wanted."}, "rfi": {"question": "Known?"},
              "rfi_response": {"answer": "Not known."}, "acknowledgement": {"state": "read"}}
    data: dict[str, Any] = {"kind": kind, "submitted_by": "police", "body": bodies[kind]} | fields
    if kind == "alert":
        data.setdefault("evaluation", {"source": "B", "information": "2"})
    return stamp(SUBMIT_ADAPTER.validate_python(data), message_id=message_id, origin=origin, created_at=NOW)


HIT = Hit(entity_type="document", position=0, key="doc:passport:MR:B0987654", matched_message_id=OTHER_ID,
          matched_platform="TD", score=1.0, outcome="hit", explanation=["identifier identical"])


def enriched(msg: Message, hits: list[Hit] | None = None) -> MessageEnriched:
    return MessageEnriched(message=msg, enrichment=Enrichment(hits=hits or []), enriched_at=NOW)


def new_uow(store: InMemoryRoutingStore | None = None) -> FakeUnitOfWork[InMemoryRoutingStore]:
    return FakeUnitOfWork(store or InMemoryRoutingStore())


async def route(uow: FakeUnitOfWork[Any], event: MessageEnriched, fed: Federation | None = None) -> None:
    await when_message_enriched_route_it(event, uow=uow, federation=fed or federation(), policy=POLICY, clock=clock)


def of_type(rows: list[OutgoingMessage], wire_type: str) -> list[OutgoingMessage]:
    return [row for row in rows if row.type == wire_type]


class FailingRoutingStore(InMemoryRoutingStore):
    async def record(self, decisions: list[tuple[Message, RoutingDecision]]) -> None:
        raise RuntimeError("database went away")


class CountingRoutingStore(InMemoryRoutingStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    async def record(self, decisions: list[tuple[Message, RoutingDecision]]) -> None:
        self.writes.append(len(decisions))
        await super().record(decisions)


async def test_an_alert_is_dispatched_to_each_active_member_and_the_hub_on_the_delivery_exchange() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert"), [HIT]))

    dispatched = of_type(uow.published, MESSAGE_DISPATCHED)
    assert [(row.exchange, row.routing_key) for row in dispatched] == [
        (names.DELIVERY, names.delivery_key(code, names.ROUTINE)) for code in ("MR", "ML", "BF", "TD", "HUB")]
    for row in dispatched:
        copy = parse(row.type, row.body)
        assert isinstance(copy, MessageDispatched)
        assert (copy.recipient, copy.rule, copy.hits, copy.dispatched_at) == (
            recipient_of(row), "alert-to-all-active-members", [HIT], NOW)
        assert copy.message == message("alert")
        assert row.message_id == str(derived_id(ALERT_ID, f"dispatched:{recipient_of(row)}"))
        assert row.correlation_id == str(ALERT_ID)


async def test_the_origin_is_told_the_routing_decision_on_its_delivery_queue() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert")), federation(BF="withdrawn"))

    [row] = of_type(uow.published, ROUTING_DECIDED)
    assert (row.exchange, row.routing_key) == (names.DELIVERY, names.delivery_key("NE", names.ROUTINE))
    notice = parse(row.type, row.body)
    assert isinstance(notice, RoutingDecided)
    assert notice.recipients == ["MR", "ML", "TD", "HUB"]
    assert [(r.platform, r.reason) for r in notice.refused] == [("BF", "member is withdrawn")]
    assert (notice.message_id, notice.origin, notice.rule, notice.decided_at) == (
        ALERT_ID, "NE", "alert-to-all-active-members", NOW)


async def test_routing_records_a_routed_hop_on_the_audit_exchange() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert")), federation(BF="withdrawn"))

    [row] = of_type(uow.published, HOP_RECORDED)
    assert (row.exchange, row.routing_key) == (names.AUDIT, "audit.routed")
    hop = parse(row.type, row.body)
    assert isinstance(hop, HopRecorded)
    assert (hop.hop, hop.platform, hop.service, hop.message_id, hop.at) == ("routed", "HUB", "routing", ALERT_ID, NOW)
    assert hop.detail["recipients"] == ["MR", "ML", "TD", "HUB"]
    assert hop.detail["refused"] == ["BF: member is withdrawn"]


async def test_routing_stores_the_decision_and_claims_the_event() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert")))

    stored, decision = uow.store.decisions[ALERT_ID]
    assert stored == message("alert")
    assert decision.rule == "alert-to-all-active-members"
    assert (CONSUMER, derived_id(ALERT_ID, "enriched")) in uow.claims


async def test_a_repeated_enriched_event_is_routed_once() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert")))
    first = list(uow.published)

    await route(uow, enriched(message("alert")))

    assert uow.published == first
    assert len(uow.store.decisions) == 1


async def test_a_failing_routing_commits_nothing_and_a_redelivery_is_routed() -> None:
    uow = new_uow(FailingRoutingStore())
    with pytest.raises(RuntimeError):
        await route(uow, enriched(message("alert")))
    assert uow.published == []
    assert uow.claims == set()
    assert uow.commits == 0

    uow.store = InMemoryRoutingStore()
    await route(uow, enriched(message("alert")))
    assert len(of_type(uow.published, MESSAGE_DISPATCHED)) == 5


async def test_an_rfi_response_is_dispatched_to_the_origin_of_the_rfi_and_the_hub() -> None:
    uow = new_uow()
    await route(uow, enriched(message("rfi", recipients=["ML"])))
    uow.published.clear()

    response = message("rfi_response", message_id=RESPONSE_ID, origin="ML", in_reply_to=str(ALERT_ID),
                       recipients=["TD"])
    await route(uow, enriched(response))

    assert [recipient_of(row) for row in of_type(uow.published, MESSAGE_DISPATCHED)] == ["NE", "HUB"]
    assert uow.store.decisions[RESPONSE_ID][1].rule == "reply-to-originator"


async def test_an_acknowledgement_is_dispatched_to_the_origin_of_the_acknowledged_message_only() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert")))
    uow.published.clear()

    ack = message("acknowledgement", message_id=RESPONSE_ID, origin="ML", in_reply_to=str(ALERT_ID),
                  recipients=["NE"])
    await route(uow, enriched(ack))

    assert [recipient_of(row) for row in of_type(uow.published, MESSAGE_DISPATCHED)] == ["NE"]


async def test_the_decisions_of_one_delivery_batch_are_recorded_together_and_a_reply_sees_its_original_in_it() -> None:
    store = CountingRoutingStore()
    alert = message("rfi", recipients=["ML"])
    response = message("rfi_response", message_id=RESPONSE_ID, origin="ML", in_reply_to=str(ALERT_ID), recipients=["TD"])
    units = [new_uow(store), new_uow(store)]
    with batch_end() as end:
        for uow, each in zip(units, (alert, response), strict=True):
            await route(uow, enriched(each))
        assert store.writes == [] and store.decisions == {}
        await end.run()

    assert store.writes == [2]
    assert [recipient_of(row) for row in of_type(units[1].published, MESSAGE_DISPATCHED)] == ["NE", "HUB"]
    assert store.decisions[RESPONSE_ID][1].rule == "reply-to-originator"


async def test_a_reply_to_a_message_the_hub_never_routed_is_dispatched_nowhere() -> None:
    uow = new_uow()
    ack = message("acknowledgement", message_id=RESPONSE_ID, origin="ML", in_reply_to=str(OTHER_ID),
                  recipients=["NE"])
    await route(uow, enriched(ack))

    assert of_type(uow.published, MESSAGE_DISPATCHED) == []
    [row] = of_type(uow.published, ROUTING_DECIDED)
    assert row.routing_key == names.delivery_key("ML", names.ROUTINE)
    assert parse(row.type, row.body).rule == "reply-to-unknown-message"


@pytest.mark.parametrize("status", ["suspended", "withdrawn"])
async def test_a_message_from_an_inactive_origin_is_dispatched_nowhere_and_no_notice_is_sent(status: str) -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert")), federation(NE=status))

    assert of_type(uow.published, MESSAGE_DISPATCHED) == []
    assert of_type(uow.published, ROUTING_DECIDED) == []
    [row] = of_type(uow.published, HOP_RECORDED)
    assert parse(row.type, row.body).detail["rule"] == f"origin-{status}"


async def test_a_message_from_an_unknown_origin_is_dispatched_nowhere() -> None:
    uow = new_uow()
    await route(uow, enriched(message("alert", origin="SN")))

    assert [row.type for row in uow.published] == [HOP_RECORDED]
    assert uow.store.decisions[ALERT_ID][1].rule == "origin-unknown"


def recipient_of(row) -> str:
    return row.routing_key.split(".")[0]
