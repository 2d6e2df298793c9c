"""Alerts are updated, cancelled and expire; recipients see the current state."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from shared.contracts.events import MessageDispatched
from shared.contracts.messages import SUBMIT_ADAPTER, stamp
from shared.messaging.fakes import FakeUnitOfWork
from services.intake import handlers
from services.intake.domain.alerts import alert_state
from services.intake.fakes import InMemoryIntakeStore

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def alert(**body: object):  # noqa: ANN201
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "alert", "submitted_by": "police", "evaluation": {"source": "A", "information": "1"},
        "body": {"alert_type": "stolen_vehicle", "summary": "Hilux volé.", **body}})
    message = stamp(command, message_id=uuid4(), origin="NE", created_at=T0)
    return MessageDispatched(message=message, recipient="ML", rule="alert-to-all-active-members", dispatched_at=T0)


@pytest.mark.parametrize(("cancelled", "state"), [(False, "updated"), (True, "cancelled")])
async def test_an_update_or_cancellation_changes_the_state_of_the_alert_in_the_inbox(cancelled: bool, state: str) -> None:
    store = InMemoryIntakeStore()
    uow = FakeUnitOfWork(store)
    original = alert()
    await handlers.when_message_dispatched_take_it_in(original, uow=uow, platform="ML", clock=lambda: T0, new_id=uuid4)
    change = alert(supersedes=str(original.message.message_id), cancelled=cancelled)
    await handlers.when_message_dispatched_take_it_in(change, uow=uow, platform="ML", clock=lambda: T0, new_id=uuid4)
    assert store.alert_states[original.message.message_id] == (state, change.message.message_id)


def test_an_alert_expires_at_valid_until_unless_it_was_updated_or_cancelled() -> None:
    until = T0 + timedelta(days=1)
    assert alert_state("active", until, T0) == "active"
    assert alert_state("active", until, until) == "expired"
    assert alert_state("cancelled", until, until + timedelta(days=1)) == "cancelled"
    assert alert_state("active", None, T0 + timedelta(days=3650)) == "active"


def test_a_cancellation_must_name_the_alert_it_cancels() -> None:
    with pytest.raises(ValueError, match="names the alert it cancels"):
        SUBMIT_ADAPTER.validate_python({
            "kind": "alert", "submitted_by": "police", "evaluation": {"source": "A", "information": "1"},
            "body": {"alert_type": "threat", "summary": "Void.", "cancelled": True}})
