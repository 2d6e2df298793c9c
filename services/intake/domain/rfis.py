"""Requests for information: deadlines from urgency, reminders before them, overdue after them."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.contracts.messages import SubmitRfi
from shared.policy import RfiRule


class RfiStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    REFUSED = "refused"


def deadline_by_urgency(priority: str, created_at: datetime, rule: RfiRule) -> datetime:
    return created_at + timedelta(hours=rule.deadline_hours[priority])


def with_deadline(command: SubmitRfi, *, created_at: datetime, rule: RfiRule) -> SubmitRfi:
    """The deadline the urgency gives, or the requester's own if it is earlier."""
    by_urgency = deadline_by_urgency(command.priority.value, created_at, rule)
    requested = command.body.deadline
    deadline = min(requested, by_urgency) if requested is not None else by_urgency
    return command.model_copy(update={"body": command.body.model_copy(update={"deadline": deadline})})


@dataclass(frozen=True)
class TrackedRfi:
    message_id: str
    direction: str  # sent | received
    counterpart: str
    asked_at: datetime
    deadline: datetime
    status: RfiStatus
    reminded: bool
    overdue_notified: bool


def shown_status(rfi: TrackedRfi, now: datetime) -> str:
    return "overdue" if rfi.status is RfiStatus.OPEN and now > rfi.deadline else rfi.status.value


def reminder_due(rfi: TrackedRfi, now: datetime, rule: RfiRule) -> bool:
    """A received request, still open, with only `remind_when_left` of its time left."""
    if rfi.direction != "received" or rfi.status is not RfiStatus.OPEN or rfi.reminded:
        return False
    return now >= rfi.deadline - (rfi.deadline - rfi.asked_at) * rule.remind_when_left


def overdue_notice_due(rfi: TrackedRfi, now: datetime) -> bool:
    """The requester is told once that a recipient has not answered in time."""
    return rfi.direction == "sent" and rfi.status is RfiStatus.OPEN and not rfi.overdue_notified and now > rfi.deadline
