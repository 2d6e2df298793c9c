"""The intake handlers of a platform, driven with the in-memory unit of work and intake store."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.contracts.bodies import AcknowledgementState
from shared.contracts.common import NationalService
from shared.contracts.events import HopRecorded, MatchFound, MessageDispatched, RefusedRecipient, RoutingDecided
from shared.contracts.identity import derived_id, hop_event_id
from shared.contracts.messages import SUBMIT_ADAPTER, Message, stamp
from shared.contracts.registry import HOP_RECORDED, MESSAGE, parse
from shared.messaging import names
from shared.messaging.batch_end import batch_end
from shared.messaging.fakes import FakeUnitOfWork
from shared.messaging.outgoing import OutgoingMessage, outgoing
from services.intake.domain.acknowledgements import Received, receipts_for
from services.intake.domain.delivery import DeliveryState
from services.intake.fakes import InMemoryIntakeStore
from services.intake.handlers import (
    CONSUMER,
    NotInInbox,
    acknowledge_message,
    published_hop,
    send_queued_receipts,
    submit_many,
    submit_message,
    when_match_found_record_it,
    when_message_dispatched_take_it_in,
    when_routing_decided_record_it,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
ALERT_ID = UUID("00000000-0000-4000-8000-000000000001")
UNKNOWN_ID = UUID("00000000-0000-4000-8000-0000000000ff")


def clock() -> datetime:
    return NOW


def id_factory(start: int = 0x100) -> Callable[[], UUID]:
    counter: Iterator[int] = iter(range(start, start + 1000))
    return lambda: UUID(int=next(counter))


def submission(kind: str = "alert", **fields: Any) -> Any:
    bodies = {"alert": {"alert_type": "wanted_person", "summary": "Wanted."}, "rfi": {"question": "Known?"},
              "acknowledgement": {"state": "read"}}
    data: dict[str, Any] = {"kind": kind, "submitted_by": "police", "body": bodies[kind]} | fields
    if kind == "alert":
        data.setdefault("evaluation", {"source": "B", "information": "2"})
    return SUBMIT_ADAPTER.validate_python(data)


def alert_from(origin: str = "NE", **fields: Any) -> Message:
    return stamp(submission("alert", **fields), message_id=ALERT_ID, origin=origin, created_at=NOW)


def acknowledgement_from(recipient: str, state: str, *, message_id: UUID, about: UUID = ALERT_ID,
                         origin_of_acknowledged: str = "NE", **body: Any) -> Message:
    command = submission("acknowledgement", in_reply_to=str(about), recipients=[origin_of_acknowledged],
                         body={"state": state, **body})
    return stamp(command, message_id=message_id, origin=recipient, created_at=NOW)


def dispatched(msg: Message, recipient: str) -> MessageDispatched:
    return MessageDispatched(message=msg, recipient=recipient, rule="alert-to-all-active-members", dispatched_at=NOW)


def new_uow(store: InMemoryIntakeStore | None = None) -> FakeUnitOfWork[InMemoryIntakeStore]:
    return FakeUnitOfWork(store or InMemoryIntakeStore())


async def take_in(uow: FakeUnitOfWork[Any], event: MessageDispatched, platform: str,
                  new_id: Callable[[], UUID] | None = None, lane: str | None = None) -> None:
    await when_message_dispatched_take_it_in(event, uow=uow, platform=platform, clock=clock,
                                             new_id=new_id or id_factory(), lane=lane)


async def submit(uow: FakeUnitOfWork[Any], command: Any, platform: str = "NE") -> Message:
    return await submit_message(command, uow=uow, platform=platform, clock=clock, new_id=lambda: ALERT_ID,
                                actor="officer.ne.1")


def parsed(rows: list[OutgoingMessage], wire_type: str) -> list[Any]:
    return [parse(row.type, row.body) for row in rows if row.type == wire_type]


def hops(rows: list[OutgoingMessage]) -> list[str]:
    return [event.hop for event in parsed(rows, HOP_RECORDED)]


class FailingInbox(InMemoryIntakeStore):
    async def save_inbox_items(self, dispatched: list[MessageDispatched]) -> None:
        raise RuntimeError("database went away")


class FailingSent(InMemoryIntakeStore):
    async def record_sent(self, message: Message, *, idempotency_key: str | None = None) -> bool:
        raise RuntimeError("database went away")


# --- submit_message -----------------------------------------------------------------------------------------------

async def test_a_submitted_message_is_stamped_recorded_and_published_on_the_platform_exchange() -> None:
    uow = new_uow()
    message = await submit(uow, submission("alert", priority="urgent"))

    assert (message.message_id, message.origin, message.created_at, message.correlation_id) == (
        ALERT_ID, "NE", NOW, ALERT_ID)
    assert uow.store.sent == {ALERT_ID: message}
    [row] = [row for row in uow.published if row.type == MESSAGE]
    assert (row.exchange, row.routing_key, row.message_id) == ("pcms.platform.NE", "message.urgent.alert.urgent", str(ALERT_ID))
    assert parse(row.type, row.body) == message


async def test_a_submitted_message_records_an_accepted_hop_with_the_actor() -> None:
    uow = new_uow()
    await submit(uow, submission("rfi", recipients=["ML", "TD"]))

    [row] = [row for row in uow.published if row.type == HOP_RECORDED]
    assert (row.exchange, row.routing_key) == ("pcms.platform.NE", "audit.accepted")
    hop = parse(row.type, row.body)
    assert (hop.hop, hop.platform, hop.actor, hop.at) == ("accepted", "NE", "officer.ne.1", NOW)
    assert hop.event_id == hop_event_id(ALERT_ID, "accepted", "NE")
    assert hop.detail == {"recipients": ["ML", "TD"], "submitted_by": "police"}


async def test_a_failing_submission_commits_nothing() -> None:
    uow = new_uow(FailingSent())
    with pytest.raises(RuntimeError):
        await submit(uow, submission("alert"))
    assert (uow.published, uow.commits) == ([], 0)


# --- when_message_dispatched_take_it_in -----------------------------------------------------------------------------

async def test_a_delivered_alert_goes_to_the_inbox_with_a_delivered_hop() -> None:
    uow = new_uow()
    event = dispatched(alert_from("NE"), "ML")
    await take_in(uow, event, "ML")

    assert uow.store.inbox == {ALERT_ID: event}
    [delivered] = [hop for hop in parsed(uow.published, HOP_RECORDED) if hop.hop == "delivered"]
    assert (delivered.platform, delivered.message_id, delivered.detail) == (
        "ML", ALERT_ID, {"origin": "NE", "rule": "alert-to-all-active-members"})
    assert (CONSUMER, derived_id(ALERT_ID, "dispatched:ML")) in uow.claims


async def test_a_delivered_alert_is_automatically_acknowledged_as_received_to_its_origin_on_the_routine_lane() -> None:
    uow = new_uow()
    receipt_id = UUID(int=0x100)
    await take_in(uow, dispatched(alert_from("NE", priority="urgent"), "ML"), "ML", lane="urgent")

    [row] = [row for row in uow.published if row.type == MESSAGE]
    assert (row.exchange, row.routing_key, row.message_id) == (  # bookkeeping: the routine lane, alerts go first
        "pcms.platform.ML", "message.routine.acknowledgement.urgent", str(receipt_id))
    receipt = parse(row.type, row.body)
    assert (receipt.kind, receipt.origin, receipt.recipients, receipt.in_reply_to) == (
        "acknowledgement", "ML", ["NE"], ALERT_ID)
    assert receipt.body.state is AcknowledgementState.RECEIVED
    assert receipt.correlation_id == ALERT_ID
    assert receipt.submitted_by is NationalService.PLATFORM_SYSTEM
    assert uow.store.sent == {receipt_id: receipt}
    assert sorted(hops(uow.published)) == ["accepted", "delivered"]


async def test_a_delivered_acknowledgement_is_not_acknowledged() -> None:
    uow = new_uow()
    await take_in(uow, dispatched(acknowledgement_from("ML", "read", message_id=UUID(int=7)), "NE"), "NE")

    assert [row.type for row in uow.published] == [HOP_RECORDED]
    assert hops(uow.published) == ["delivered"]
    assert uow.store.sent == {}
    assert uow.store.inbox == {}


async def _sent_and_routed_alert(uow: FakeUnitOfWork[InMemoryIntakeStore]) -> None:
    await submit(uow, submission("alert"))
    notice = RoutingDecided(message_id=ALERT_ID, correlation_id=ALERT_ID, origin="NE", recipients=["ML", "TD", "HUB"],
                            refused=[RefusedRecipient(platform="BF", reason="member is withdrawn")],
                            rule="alert-to-all-active-members", decided_at=NOW)
    await when_routing_decided_record_it(notice, uow=uow)


async def test_a_routing_decision_records_routed_and_refused_deliveries_of_the_sent_message() -> None:
    uow = new_uow()
    await _sent_and_routed_alert(uow)

    assert uow.store.deliveries == {
        (ALERT_ID, "ML"): (DeliveryState.ROUTED, None),
        (ALERT_ID, "TD"): (DeliveryState.ROUTED, None),
        (ALERT_ID, "HUB"): (DeliveryState.ROUTED, None),
        (ALERT_ID, "BF"): (DeliveryState.NOT_ROUTED, "member is withdrawn"),
    }
    assert uow.store.routing_rules == {ALERT_ID: "alert-to-all-active-members"}


async def test_a_delivered_acknowledgement_advances_the_delivery_state_of_the_sent_message() -> None:
    uow = new_uow()
    await _sent_and_routed_alert(uow)

    await take_in(uow, dispatched(acknowledgement_from("ML", "read", message_id=UUID(int=7)), "NE"), "NE")
    assert uow.store.deliveries[(ALERT_ID, "ML")] == (DeliveryState.READ, None)

    await take_in(uow, dispatched(acknowledgement_from("TD", "refused", message_id=UUID(int=8),
                                                       reason="Out of mandate."), "NE"), "NE")
    assert uow.store.deliveries[(ALERT_ID, "TD")] == (DeliveryState.REFUSED, "Out of mandate.")


async def test_the_delivery_state_never_moves_backwards() -> None:
    uow = new_uow()
    await _sent_and_routed_alert(uow)
    await take_in(uow, dispatched(acknowledgement_from("ML", "actioned", message_id=UUID(int=7)), "NE"), "NE")

    await take_in(uow, dispatched(acknowledgement_from("ML", "received", message_id=UUID(int=8)), "NE"), "NE")
    await take_in(uow, dispatched(acknowledgement_from("ML", "read", message_id=UUID(int=9)), "NE"), "NE")

    assert uow.store.deliveries[(ALERT_ID, "ML")] == (DeliveryState.ACTIONED, None)


async def test_a_late_routing_decision_does_not_move_an_acknowledged_delivery_back() -> None:
    uow = new_uow()
    await submit(uow, submission("alert"))
    await take_in(uow, dispatched(acknowledgement_from("ML", "read", message_id=UUID(int=7)), "NE"), "NE")

    notice = RoutingDecided(message_id=ALERT_ID, correlation_id=ALERT_ID, origin="NE", recipients=["ML"],
                            rule="alert-to-all-active-members", decided_at=NOW)
    await when_routing_decided_record_it(notice, uow=uow)

    assert uow.store.deliveries[(ALERT_ID, "ML")] == (DeliveryState.READ, None)


async def test_a_repeated_delivery_is_taken_in_once() -> None:
    uow = new_uow()
    new_id = id_factory()
    await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML", new_id)
    first = list(uow.published)

    await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML", new_id)

    assert uow.published == first
    assert len(uow.store.sent) == 1
    assert len(uow.store.inbox) == 1


async def test_a_repeated_routing_decision_is_recorded_once() -> None:
    uow = new_uow()
    await _sent_and_routed_alert(uow)
    commits, claims = uow.commits, set(uow.claims)

    uow.store.deliveries.clear()
    notice = RoutingDecided(message_id=ALERT_ID, correlation_id=ALERT_ID, origin="NE", recipients=["ML"],
                            rule="alert-to-all-active-members", decided_at=NOW)
    await when_routing_decided_record_it(notice, uow=uow)

    assert uow.store.deliveries == {}
    assert uow.claims == claims
    assert uow.commits == commits + 1


async def test_a_failing_delivery_commits_nothing_and_a_redelivery_is_taken_in() -> None:
    uow = new_uow(FailingInbox())
    with pytest.raises(RuntimeError):
        await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML")
    assert (uow.published, uow.claims, uow.commits) == ([], set(), 0)

    uow.store = InMemoryIntakeStore()
    await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML")
    assert sorted(hops(uow.published)) == ["accepted", "delivered"]


# --- acknowledge_message ------------------------------------------------------------------------------------------

async def acknowledge(uow: FakeUnitOfWork[Any], message_id: UUID, state: AcknowledgementState,
                      reason: str | None = None) -> Message:
    return await acknowledge_message(message_id, state, reason=reason, submitted_by=NationalService.GENDARMERIE,
                                     uow=uow, platform="ML", clock=clock, new_id=lambda: UUID(int=0x200),
                                     actor="officer.ml.7")


async def test_acknowledging_a_message_not_in_the_inbox_raises_not_in_inbox_and_commits_nothing() -> None:
    uow = new_uow()
    with pytest.raises(NotInInbox):
        await acknowledge(uow, UNKNOWN_ID, AcknowledgementState.READ)
    assert (uow.published, uow.commits, uow.store.sent) == ([], 0, {})


async def test_acknowledging_an_inbox_message_sends_the_acknowledgement_to_its_origin() -> None:
    uow = new_uow()
    await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML")
    uow.published.clear()

    ack = await acknowledge(uow, ALERT_ID, AcknowledgementState.ACTIONED)

    assert (ack.message_id, ack.origin, ack.recipients, ack.in_reply_to, ack.submitted_by) == (
        UUID(int=0x200), "ML", ["NE"], ALERT_ID, NationalService.GENDARMERIE)
    assert ack.body.state is AcknowledgementState.ACTIONED
    [row] = [row for row in uow.published if row.type == MESSAGE]
    assert (row.exchange, row.routing_key) == ("pcms.platform.ML", "message.routine.acknowledgement.routine")
    acknowledged = [hop for hop in parsed(uow.published, HOP_RECORDED) if hop.hop == "acknowledged"]
    assert [(h.message_id, h.actor, h.detail["state"]) for h in acknowledged] == [(ALERT_ID, "officer.ml.7", "actioned")]
    assert acknowledged[0].event_id == hop_event_id(ALERT_ID, "acknowledged", "ML", "actioned")


async def test_refusing_an_inbox_message_without_a_reason_is_rejected_and_commits_nothing() -> None:
    uow = new_uow()
    await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML")
    committed = list(uow.published)

    with pytest.raises(ValueError):
        await acknowledge(uow, ALERT_ID, AcknowledgementState.REFUSED)
    assert uow.published == committed


# --- published_hop ------------------------------------------------------------------------------------------------

def test_published_hop_records_a_published_hop_for_a_message_row() -> None:
    message = alert_from("NE", priority="urgent")
    row = outgoing(message, exchange="pcms.platform.NE", routing_key="message.urgent.alert.urgent")

    [follow_up] = published_hop("NE", clock)(row)

    assert (follow_up.exchange, follow_up.routing_key, follow_up.type) == (
        "pcms.platform.NE", "audit.published", HOP_RECORDED)
    hop = parse(follow_up.type, follow_up.body)
    assert isinstance(hop, HopRecorded)
    assert (hop.hop, hop.message_id, hop.correlation_id, hop.kind, hop.platform, hop.service, hop.at) == (
        "published", ALERT_ID, ALERT_ID, "alert", "NE", "relay", NOW)
    assert hop.event_id == hop_event_id(ALERT_ID, "published", "NE")
    assert hop.detail == {"exchange": "pcms.platform.NE", "routing_key": "message.urgent.alert.urgent"}


async def test_published_hop_records_nothing_for_other_rows() -> None:
    uow = new_uow()
    await submit(uow, submission("alert"))
    hop_rows = [row for row in uow.published if row.type != MESSAGE]
    assert hop_rows
    after_sent = published_hop("NE", clock)
    assert [after_sent(row) for row in hop_rows] == [[] for _ in hop_rows]


async def test_a_submission_repeated_with_the_same_idempotency_key_is_accepted_once():
    from shared.contracts.messages import SUBMIT_ADAPTER
    from shared.contracts.registry import MESSAGE
    from shared.messaging.fakes import FakeUnitOfWork
    from services.intake.fakes import InMemoryIntakeStore
    from services.intake.handlers import submit_message
    from datetime import UTC, datetime

    command = SUBMIT_ADAPTER.validate_python({
        "kind": "report", "submitted_by": "customs", "evaluation": {"source": "B", "information": "3"},
        "body": {"crime_category": "smuggling", "summary": "Fuel smuggling at Assamaka."},
    })
    uow = FakeUnitOfWork(InMemoryIntakeStore())
    clock = lambda: datetime(2026, 11, 29, tzinfo=UTC)  # noqa: E731
    first = await submit_message(command, uow=uow, platform="NE", clock=clock, new_id=uuid4, idempotency_key="k-1")
    again = await submit_message(command, uow=uow, platform="NE", clock=clock, new_id=uuid4, idempotency_key="k-1")
    other = await submit_message(command, uow=uow, platform="NE", clock=clock, new_id=uuid4, idempotency_key="k-2")
    assert again == first and other.message_id != first.message_id
    assert [m.message_id for m in uow.published if m.type == MESSAGE] == [str(first.message_id), str(other.message_id)]


async def test_the_receipt_of_a_bulk_record_stays_on_the_bulk_lane() -> None:
    uow = new_uow()
    await take_in(uow, dispatched(alert_from("NE"), "ML"), "ML", lane="bulk")

    [row] = [row for row in uow.published if row.type == MESSAGE]
    assert row.routing_key.startswith("message.bulk.acknowledgement.")


async def test_a_bulk_submission_accepts_each_record_once_in_one_transaction_on_the_bulk_lane() -> None:
    uow = new_uow()
    commands = [(submission(), "file:2"), (submission(), "file:3"), (submission(), "file:2")]

    outcomes = await submit_many(commands, uow=uow, platform="NE", clock=clock, new_id=id_factory(), actor="officer.ne.1",
                                 lane="bulk")

    assert outcomes == [("accepted", UUID(int=0x100)), ("accepted", UUID(int=0x101)), ("duplicate", UUID(int=0x100))]
    assert uow.commits == 1
    messages = [row for row in uow.published if row.type == MESSAGE]
    assert [row.routing_key for row in messages] == ["message.bulk.alert.routine"] * 2
    assert sorted(hops(uow.published)) == ["accepted", "accepted"]
    assert set(uow.store.keys) == {"file:2", "file:3"}


async def test_a_bulk_submission_answers_records_accepted_earlier_with_their_first_id() -> None:
    store = InMemoryIntakeStore()
    await submit_many([(submission(), "file:2")], uow=new_uow(store), platform="NE", clock=clock, new_id=id_factory())
    again = new_uow(store)

    outcomes = await submit_many([(submission(), "file:2"), (submission(), "file:4")], uow=again, platform="NE",
                                 clock=clock, new_id=id_factory(0x200))

    assert outcomes == [("duplicate", UUID(int=0x100)), ("accepted", UUID(int=0x200))]
    assert len([row for row in again.published if row.type == MESSAGE]) == 1


def alert_numbered(number: int, origin: str, **fields: Any) -> Message:
    return stamp(submission("alert", **fields), message_id=UUID(int=number), origin=origin, created_at=NOW)


async def test_the_messages_of_one_delivery_batch_are_confirmed_by_one_receipt_per_origin() -> None:
    store = InMemoryIntakeStore()
    receipt_units: list[FakeUnitOfWork[InMemoryIntakeStore]] = []

    def receipt_uow() -> FakeUnitOfWork[InMemoryIntakeStore]:
        receipt_units.append(new_uow(store))
        return receipt_units[-1]

    alerts = [alert_numbered(0x10, "NE"), alert_numbered(0x11, "NE"), alert_numbered(0x12, "MR"), alert_numbered(0x13, "NE")]
    items, ids = [new_uow(store) for _ in alerts], id_factory()
    with batch_end() as end:
        for alert, uow in zip(alerts, items):
            await when_message_dispatched_take_it_in(dispatched(alert, "ML"), uow=uow, platform="ML", clock=clock,
                                                     new_id=ids, lane="urgent", receipt_uow=receipt_uow)
        assert receipt_units == []  # nothing is acknowledged before the batch's last item is in
        await end.run()

    assert all(hops(uow.published) == ["delivered"] for uow in items)
    rows = [row for unit in receipt_units for row in unit.published if row.type == MESSAGE]
    receipts = [parse(row.type, row.body) for row in rows]
    assert [(r.recipients, r.in_reply_to, r.body.also_received) for r in receipts] == [
        (["NE"], UUID(int=0x10), [UUID(int=0x11), UUID(int=0x13)]),
        (["MR"], UUID(int=0x12), None),
    ]
    assert all(r.body.state is AcknowledgementState.RECEIVED and r.origin == "ML" for r in receipts)
    assert {row.routing_key for row in rows} == {"message.routine.acknowledgement.routine"}
    assert set(store.inbox) == {alert.message_id for alert in alerts}


class CountingStore(InMemoryIntakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, int]] = []

    async def save_inbox_items(self, dispatched: list[MessageDispatched]) -> None:
        self.writes.append(("inbox", len(dispatched)))
        await super().save_inbox_items(dispatched)

    async def queue_receipts(self, received: list[Received], *, lane: str) -> None:
        self.writes.append((f"receipts {lane}", len(received)))
        await super().queue_receipts(received, lane=lane)

    async def advance_deliveries(self, changes: list[tuple[UUID, str, DeliveryState, str | None]]) -> None:
        self.writes.append(("deliveries", len(changes)))
        await super().advance_deliveries(changes)

    async def save_matches(self, notifications: list[MatchFound]) -> None:
        self.writes.append(("matches", len(notifications)))
        await super().save_matches(notifications)


def match_found(number: int) -> MatchFound:
    hit = {"entity_type": "person", "position": 0, "key": "name:moussa ag ahmed", "matched_message_id": str(ALERT_ID),
           "matched_platform": "ML", "score": 0.97, "outcome": "hit"}
    return MatchFound(notification_id=UUID(int=number), message_id=UUID(int=number + 1), origin="MR", kind="alert",
                      handling_code="H0", recipient="NE", hits=[hit], references_only=False, notified_at=NOW)


async def test_the_match_notifications_of_one_delivery_batch_are_kept_with_one_write_at_its_end() -> None:
    store = CountingStore()
    notifications, uow = [match_found(0x50), match_found(0x60), match_found(0x50)], new_uow(store)
    with batch_end() as end:
        outcomes = [await when_match_found_record_it(n, uow=uow) for n in notifications]
        assert store.writes == []
        await end.run()

    assert outcomes == [None, None, "duplicate"]
    assert store.writes == [("matches", 2)]
    assert set(store.matches) == {UUID(int=0x50), UUID(int=0x60)}


async def test_a_match_notification_that_came_alone_is_kept_at_once() -> None:
    store = CountingStore()
    assert await when_match_found_record_it(match_found(0x70), uow=new_uow(store)) is None
    assert store.writes == [("matches", 1)]
    assert set(store.matches) == {UUID(int=0x70)}


async def test_the_receipts_of_one_delivery_batch_advance_what_they_confirm_with_one_write_at_its_end() -> None:
    store = CountingStore()
    sent = await submit(new_uow(store), submission("alert"), platform="NE")
    others = [alert_numbered(0x31, "NE"), alert_numbered(0x32, "NE")]
    for other in others:
        await store.record_sent(other)
    receipts = [
        acknowledgement_from("ML", "received", message_id=UUID(int=0x41), also_received=[str(o.message_id) for o in others]),
        acknowledgement_from("MR", "received", message_id=UUID(int=0x42)),
        acknowledgement_from("HUB", "read", message_id=UUID(int=0x43)),
    ]
    with batch_end() as end:
        for receipt in receipts:
            await when_message_dispatched_take_it_in(dispatched(receipt, "NE"), uow=new_uow(store), platform="NE",
                                                     clock=clock, new_id=id_factory(), lane="routine")
        assert store.writes == []
        await end.run()

    assert store.writes == [("deliveries", 5)]
    assert {recipient: state for (message_id, recipient), (state, _) in store.deliveries.items()
            if message_id == sent.message_id} == {
        "ML": DeliveryState.RECEIVED, "MR": DeliveryState.RECEIVED, "HUB": DeliveryState.READ}
    assert {store.deliveries[(o.message_id, "ML")][0] for o in others} == {DeliveryState.RECEIVED}


async def test_a_receipt_that_came_alone_advances_what_it_confirms_at_once_with_one_write() -> None:
    store = CountingStore()
    sent = await submit(new_uow(store), submission("alert"), platform="NE")
    other = alert_numbered(0x33, "NE")
    await store.record_sent(other)
    receipt = acknowledgement_from("ML", "received", message_id=UUID(int=0x44), also_received=[str(other.message_id)])
    await when_message_dispatched_take_it_in(dispatched(receipt, "NE"), uow=new_uow(store), platform="NE",
                                             clock=clock, new_id=id_factory(), lane="routine")
    assert store.writes == [("deliveries", 2)]
    assert store.deliveries[(sent.message_id, "ML")][0] is DeliveryState.RECEIVED


async def test_the_messages_of_one_delivery_batch_go_into_the_inbox_and_the_receipt_queue_together_at_its_end() -> None:
    store = CountingStore()
    original = alert_numbered(0x20, "NE")
    update = stamp(submission("alert", body={"alert_type": "wanted_person", "summary": "Seen in Agadez.",
                                             "supersedes": str(original.message_id)}),
                   message_id=UUID(int=0x21), origin="NE", created_at=NOW)
    alerts = [update, original, alert_numbered(0x22, "MR")]  # the update overtook the alert it updates
    with batch_end() as end:
        for alert in alerts:
            await when_message_dispatched_take_it_in(dispatched(alert, "ML"), uow=new_uow(store), platform="ML",
                                                     clock=clock, new_id=id_factory(), lane="urgent",
                                                     queue_receipts=True)
        assert store.writes == [] and store.inbox == {}
        await end.run()

    receipt_lane = names.receipt_lane("urgent")
    assert store.writes == [("inbox", 3), (f"receipts {receipt_lane}", 3)]
    assert set(store.inbox) == set(store.queued_receipts) == {alert.message_id for alert in alerts}
    assert store.alert_states[original.message_id] == ("updated", update.message_id)


async def test_a_message_that_came_alone_is_confirmed_at_once_where_batches_share_receipts() -> None:
    store = InMemoryIntakeStore()
    uow = new_uow(store)
    await when_message_dispatched_take_it_in(dispatched(alert_from("NE"), "ML"), uow=uow, platform="ML", clock=clock,
                                             new_id=id_factory(), lane="urgent", receipt_uow=lambda: new_uow(store))

    [receipt] = parsed(uow.published, MESSAGE)
    assert (receipt.in_reply_to, receipt.body.also_received) == (ALERT_ID, None)


async def test_a_batch_of_more_than_a_hundred_messages_gets_a_receipt_for_each_hundred() -> None:
    alerts = [alert_numbered(0x1000 + i, "NE") for i in range(150)]

    receipts = list(receipts_for(alerts))

    assert [(r.in_reply_to, len(r.body.also_received or [])) for r in receipts] == [
        (UUID(int=0x1000), 99), (UUID(int=0x1000 + 100), 49)]
    assert [i for r in receipts for i in [r.in_reply_to, *r.body.also_received]] == [a.message_id for a in alerts]


async def test_a_receipt_for_a_batch_advances_the_delivery_of_every_message_it_lists() -> None:
    store = InMemoryIntakeStore()
    sent = [await submit_message(submission("alert"), uow=new_uow(store), platform="NE", clock=clock,
                                 new_id=lambda number=number: UUID(int=number)) for number in (0x20, 0x21, 0x22)]
    receipt = acknowledgement_from("ML", "received", message_id=UUID(int=0x30), about=sent[0].message_id,
                                   also_received=[str(sent[1].message_id), str(UNKNOWN_ID)])

    await take_in(new_uow(store), dispatched(receipt, "NE"), "NE")

    assert store.deliveries == {(sent[0].message_id, "ML"): (DeliveryState.RECEIVED, None),
                                (sent[1].message_id, "ML"): (DeliveryState.RECEIVED, None)}


async def queue_receipts_of(alerts: list[Message], store: InMemoryIntakeStore, lane: str = "urgent") -> None:
    for alert in alerts:
        uow = new_uow(store)
        await when_message_dispatched_take_it_in(dispatched(alert, "ML"), uow=uow, platform="ML", clock=clock,
                                                 new_id=id_factory(), lane=lane, queue_receipts=True)
        assert hops(uow.published) == ["delivered"] and parsed(uow.published, MESSAGE) == []


async def a_round(store: InMemoryIntakeStore, lane: str = "routine", limit: int = 1000,
                  ) -> tuple[int, FakeUnitOfWork[InMemoryIntakeStore]]:
    uow = new_uow(store)
    confirmed = await send_queued_receipts(uow=uow, lane=lane, platform="ML", clock=clock, new_id=uuid4,
                                           limit=limit)
    return confirmed, uow


async def test_a_queued_receipt_waits_for_the_next_round_which_sends_one_per_origin_for_every_message_since() -> None:
    store = InMemoryIntakeStore()
    await queue_receipts_of([alert_numbered(0x10, "NE"), alert_numbered(0x11, "NE"), alert_numbered(0x12, "MR"),
                             alert_numbered(0x13, "NE")], store)

    confirmed, uow = await a_round(store)

    receipts = parsed(uow.published, MESSAGE)
    assert confirmed == 4 and uow.commits == 1
    assert [(r.recipients, r.in_reply_to, r.body.also_received) for r in receipts] == [
        (["NE"], UUID(int=0x10), [UUID(int=0x11), UUID(int=0x13)]),
        (["MR"], UUID(int=0x12), None),
    ]
    assert {row.routing_key for row in uow.published if row.type == MESSAGE} == {"message.routine.acknowledgement.routine"}
    assert sorted(hops(uow.published)) == ["accepted", "accepted"]
    assert set(store.sent) == {r.message_id for r in receipts}, "each receipt is a sent message, tracked like any"
    assert (await a_round(store))[0] == 0, "a round takes what it sends off the queue"


async def test_a_round_confirms_at_most_its_limit_longest_queued_first() -> None:
    store = InMemoryIntakeStore()
    await queue_receipts_of([alert_numbered(0x10 + i, "NE") for i in range(5)], store)

    rounds = [await a_round(store, limit=2) for _ in range(4)]

    assert [confirmed for confirmed, _ in rounds] == [2, 2, 1, 0]
    answered = [[r.in_reply_to, *(r.body.also_received or [])] for _, uow in rounds for r in parsed(uow.published, MESSAGE)]
    assert answered == [[UUID(int=0x10), UUID(int=0x11)], [UUID(int=0x12), UUID(int=0x13)], [UUID(int=0x14)]]


async def test_the_queued_receipts_of_bulk_records_go_out_in_rounds_of_the_bulk_lane() -> None:
    store = InMemoryIntakeStore()
    await queue_receipts_of([alert_numbered(0x10, "NE")], store, lane="bulk")

    assert (await a_round(store, lane="routine"))[0] == 0
    confirmed, uow = await a_round(store, lane="bulk")

    assert confirmed == 1
    assert [row.routing_key for row in uow.published if row.type == MESSAGE] == ["message.bulk.acknowledgement.routine"]


async def test_an_acknowledgement_taken_in_queues_no_receipt() -> None:
    store = InMemoryIntakeStore()
    receipt = acknowledgement_from("ML", "received", message_id=UUID(int=0x30), about=ALERT_ID)

    await when_message_dispatched_take_it_in(dispatched(receipt, "NE"), uow=new_uow(store), platform="NE", clock=clock,
                                             new_id=id_factory(), lane="routine", queue_receipts=True)

    assert store.queued_receipts == {}
