"""Requests for information: deadlines, who must answer, answers and refusals, reminders and overdue notices."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from shared.contracts.bodies import AcknowledgementState
from shared.contracts.common import NationalService
from shared.contracts.events import MessageDispatched, RoutingDecided
from shared.contracts.messages import SUBMIT_ADAPTER, stamp
from shared.messaging.batch_end import batch_end
from shared.messaging.fakes import FakeUnitOfWork
from shared.policy import STANDARD_RFI_RULE
from services.intake import handlers
from services.intake.domain.rfis import RfiStatus, TrackedRfi, reminder_due, shown_status, with_deadline
from services.intake.fakes import InMemoryIntakeStore

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def rfi_command(priority: str = "routine", deadline: datetime | None = None, recipients: list[str] | None = None):  # noqa: ANN201
    body: dict = {"question": "Is this person known to you?"}
    if deadline is not None:
        body["deadline"] = deadline.isoformat()
    return SUBMIT_ADAPTER.validate_python({"kind": "rfi", "submitted_by": "police", "priority": priority,
                                           "recipients": recipients or ["ML", "TD"], "body": body})


@pytest.mark.parametrize(("priority", "hours"), [("urgent", 8), ("routine", 168)])
def test_an_rfi_gets_its_deadline_from_its_urgency(priority: str, hours: int) -> None:
    assert with_deadline(rfi_command(priority), created_at=T0, rule=STANDARD_RFI_RULE).body.deadline == T0 + timedelta(hours=hours)


def test_an_explicit_earlier_deadline_wins_and_a_later_one_does_not() -> None:
    earlier, later = T0 + timedelta(hours=2), T0 + timedelta(days=30)
    assert with_deadline(rfi_command("urgent", earlier), created_at=T0, rule=STANDARD_RFI_RULE).body.deadline == earlier
    assert with_deadline(rfi_command("urgent", later), created_at=T0, rule=STANDARD_RFI_RULE).body.deadline == T0 + timedelta(hours=8)


def test_an_open_rfi_past_its_deadline_shows_as_overdue() -> None:
    rfi = TrackedRfi("m", "sent", "ML", T0, T0 + timedelta(hours=8), RfiStatus.OPEN, False, False)
    assert shown_status(rfi, T0 + timedelta(hours=7)) == "open"
    assert shown_status(rfi, T0 + timedelta(hours=9)) == "overdue"


def test_a_reminder_is_due_when_a_quarter_of_the_time_is_left() -> None:
    rfi = TrackedRfi("m", "received", "NE", T0, T0 + timedelta(hours=8), RfiStatus.OPEN, False, False)
    assert not reminder_due(rfi, T0 + timedelta(hours=5, minutes=59), STANDARD_RFI_RULE)
    assert reminder_due(rfi, T0 + timedelta(hours=6), STANDARD_RFI_RULE)


async def test_the_requester_tracks_each_addressed_recipient_until_it_answers_or_refuses() -> None:
    store = InMemoryIntakeStore()
    uow = FakeUnitOfWork(store)
    sent = await handlers.submit_message(rfi_command(recipients=["ML", "TD"]), uow=uow, platform="NE",
                                         clock=lambda: T0, new_id=uuid4)
    notice = RoutingDecided(message_id=sent.message_id, correlation_id=sent.correlation_id, origin="NE",
                            recipients=["ML", "TD", "HUB"], rule="rfi-to-named-recipients", decided_at=T0)
    await handlers.when_routing_decided_record_it(notice, uow=uow)
    assert {key[2] for key in store.rfis} == {"ML", "TD"}, "the hub's copy is for information"

    answer = answer_from("ML", sent.message_id)
    await handlers.when_message_dispatched_take_it_in(answer, uow=uow, platform="NE", clock=lambda: T0, new_id=uuid4)
    refusal = acknowledgement_from("TD", sent.message_id)
    await handlers.when_message_dispatched_take_it_in(refusal, uow=uow, platform="NE", clock=lambda: T0, new_id=uuid4)
    statuses = {key[2]: rfi.status for key, rfi in store.rfis.items()}
    assert statuses == {"ML": RfiStatus.ANSWERED, "TD": RfiStatus.REFUSED}


class CountingStore(InMemoryIntakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, int]] = []

    async def record_routing_rules(self, rules):  # noqa: ANN001, ANN201
        self.writes.append(("rules", len(rules)))
        return await super().record_routing_rules(rules)

    async def advance_deliveries(self, changes):  # noqa: ANN001, ANN201
        self.writes.append(("deliveries", len(changes)))
        await super().advance_deliveries(changes)


async def test_the_routing_decisions_of_one_delivery_batch_are_recorded_together_at_its_end() -> None:
    store = CountingStore()
    rfi = await handlers.submit_message(rfi_command(recipients=["ML"]), uow=FakeUnitOfWork(store), platform="NE",
                                        clock=lambda: T0, new_id=uuid4)
    alert_command = SUBMIT_ADAPTER.validate_python({
        "kind": "alert", "submitted_by": "police", "evaluation": {"source": "B", "information": "2"},
        "body": {"alert_type": "wanted_person", "summary": "Wanted."}})
    alert = await handlers.submit_message(alert_command, uow=FakeUnitOfWork(store), platform="NE", clock=lambda: T0,
                                          new_id=uuid4)
    notices = [RoutingDecided(message_id=rfi.message_id, correlation_id=rfi.correlation_id, origin="NE",
                              recipients=["ML", "HUB"], rule="rfi-to-named-recipients", decided_at=T0),
               RoutingDecided(message_id=alert.message_id, correlation_id=alert.correlation_id, origin="NE",
                              recipients=["ML", "TD", "HUB"], rule="alert-to-all-active-members", decided_at=T0)]
    with batch_end() as end:
        for notice in notices:
            await handlers.when_routing_decided_record_it(notice, uow=FakeUnitOfWork(store))
        assert store.writes == [] and store.routing_rules == {}
        await end.run()

    assert store.writes == [("rules", 2), ("deliveries", 5)]
    assert store.routing_rules == {rfi.message_id: "rfi-to-named-recipients",
                                   alert.message_id: "alert-to-all-active-members"}
    assert {key[0] for key in store.deliveries} == {rfi.message_id, alert.message_id}
    assert {(key[0], key[2]) for key in store.rfis} == {(str(rfi.message_id), "ML")}, "the RFI's answerer is tracked"


async def test_the_addressed_platform_sees_the_rfi_open_until_it_answers() -> None:
    store = InMemoryIntakeStore()
    uow = FakeUnitOfWork(store)
    rfi = stamp(with_deadline(rfi_command("urgent"), created_at=T0, rule=STANDARD_RFI_RULE),
                message_id=uuid4(), origin="NE", created_at=T0)
    delivered = MessageDispatched(message=rfi, recipient="ML", rule="rfi-to-named-recipients", dispatched_at=T0)
    await handlers.when_message_dispatched_take_it_in(delivered, uow=uow, platform="ML", clock=lambda: T0, new_id=uuid4)
    [tracked] = store.rfis.values()
    assert (tracked.direction, tracked.counterpart, tracked.status, tracked.deadline) == (
        "received", "NE", RfiStatus.OPEN, T0 + timedelta(hours=8))

    response = SUBMIT_ADAPTER.validate_python({"kind": "rfi_response", "submitted_by": "police", "recipients": ["NE"],
                                               "in_reply_to": str(rfi.message_id), "body": {"answer": "Known."}})
    await handlers.submit_message(response, uow=uow, platform="ML", clock=lambda: T0, new_id=uuid4)
    assert [r.status for r in store.rfis.values()] == [RfiStatus.ANSWERED]


async def test_reminders_go_to_the_addressed_platform_and_overdue_notices_to_the_requester_once() -> None:
    store = InMemoryIntakeStore()
    uow = FakeUnitOfWork(store)
    await store.track_rfi(UUID(int=1), "received", "NE", T0, T0 + timedelta(hours=8))
    await store.track_rfi(UUID(int=2), "sent", "TD", T0, T0 + timedelta(hours=8))
    assert await handlers.remind_and_flag_overdue(uow=uow, clock=lambda: T0 + timedelta(hours=7)) == 1
    assert await handlers.remind_and_flag_overdue(uow=uow, clock=lambda: T0 + timedelta(hours=9)) == 1
    assert await handlers.remind_and_flag_overdue(uow=uow, clock=lambda: T0 + timedelta(hours=10)) == 0
    assert sorted(kind for kind, _, _ in store.notifications) == ["rfi_overdue", "rfi_reminder"]


def answer_from(platform: str, rfi_id: UUID) -> MessageDispatched:
    command = SUBMIT_ADAPTER.validate_python({"kind": "rfi_response", "submitted_by": "police", "recipients": ["NE"],
                                              "in_reply_to": str(rfi_id), "body": {"answer": "Not known."}})
    message = stamp(command, message_id=uuid4(), origin=platform, created_at=T0)
    return MessageDispatched(message=message, recipient="NE", rule="reply-to-originator", dispatched_at=T0)


def acknowledgement_from(platform: str, rfi_id: UUID) -> MessageDispatched:
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "acknowledgement", "submitted_by": NationalService.POLICE, "recipients": ["NE"],
        "in_reply_to": str(rfi_id), "body": {"state": AcknowledgementState.REFUSED, "reason": "outside our mandate"}})
    message = stamp(command, message_id=uuid4(), origin=platform, created_at=T0)
    return MessageDispatched(message=message, recipient="NE", rule="reply-to-originator", dispatched_at=T0)


async def test_reading_records_one_read_audit_entry_per_message_shown() -> None:
    from shared.contracts.registry import HOP_RECORDED, parse

    uow = FakeUnitOfWork(InMemoryIntakeStore())
    first, second = uuid4(), uuid4()
    await handlers.record_reads([(first, first, "alert"), (second, second, "report")], uow=uow, platform="ML",
                                actor="officer-17", via="GET /v1/inbox", clock=lambda: T0)
    hops = [parse(row.type, row.body) for row in uow.published if row.type == HOP_RECORDED]
    assert [(h.message_id, h.hop, h.actor, h.platform) for h in hops] == [
        (first, "read", "officer-17", "ML"), (second, "read", "officer-17", "ML")]
    assert {row.routing_key for row in uow.published} == {"audit.read"}
