"""The acknowledgements a platform sends about messages it received."""

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Protocol, Self
from uuid import UUID

from shared.contracts.bodies import MAX_ALSO_RECEIVED, AcknowledgementBody, AcknowledgementState
from shared.contracts.common import HandlingCode, Language, NationalService, Priority
from shared.contracts.messages import Message, SubmitAcknowledgement


class Acknowledged(Protocol):
    """What an acknowledgement copies of the message it answers."""

    @property
    def message_id(self) -> UUID: ...
    @property
    def origin(self) -> str: ...
    @property
    def correlation_id(self) -> UUID | None: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def handling_code(self) -> HandlingCode: ...
    @property
    def handling_note(self) -> str | None: ...
    @property
    def language(self) -> Language: ...


@dataclass(frozen=True, slots=True)
class Received:
    """A message taken in whose receipt waits for the next round of receipts: what the receipt copies of it."""

    message_id: UUID
    origin: str
    correlation_id: UUID | None
    priority: Priority
    handling_code: HandlingCode
    handling_note: str | None
    language: Language

    @classmethod
    def of(cls, message: Message) -> Self:
        return cls(message.message_id, message.origin, message.correlation_id, message.priority,
                   message.handling_code, message.handling_note, message.language)


def acknowledgement_of(
    message: Acknowledged, state: AcknowledgementState, *, reason: str | None = None,
    submitted_by: NationalService = NationalService.PLATFORM_SYSTEM, also_received: list[UUID] | None = None,
) -> SubmitAcknowledgement:
    return SubmitAcknowledgement(
        kind="acknowledgement",
        submitted_by=submitted_by,
        correlation_id=message.correlation_id,
        in_reply_to=message.message_id,
        recipients=[message.origin],
        handling_code=message.handling_code,
        handling_note=message.handling_note,
        priority=message.priority,
        language=message.language,
        body=AcknowledgementBody(state=state, reason=reason, also_received=also_received),
    )


def needs_receipt(message: Message) -> bool:
    return message.kind != "acknowledgement"


def receipt_group(message: Acknowledged) -> Hashable:
    """What the messages one receipt confirms have in common: their origin, and what the receipt copies of them."""
    return message.origin, message.priority, message.handling_code, message.handling_note, message.language


def receipts_for(messages: list[Acknowledged]) -> Iterator[SubmitAcknowledgement]:
    """One receipt for up to 100 messages of one group (`receipt_group`), in the order they came: it answers the
    first (its `in_reply_to` and conversation) and lists the others in `also_received`."""
    for start in range(0, len(messages), MAX_ALSO_RECEIVED + 1):
        first, *others = messages[start:start + MAX_ALSO_RECEIVED + 1]
        yield acknowledgement_of(first, AcknowledgementState.RECEIVED,
                                 also_received=[other.message_id for other in others] or None)


def acknowledged_ids(acknowledgement: Message) -> list[UUID]:
    """Every message an acknowledgement answers: its `in_reply_to`, then those a receipt lists as well."""
    return [acknowledgement.in_reply_to, *(acknowledgement.body.also_received or ())]


def receipts_by_group(messages: list[Acknowledged]) -> Iterator[SubmitAcknowledgement]:
    """The receipts for messages of any groups: those of each group (`receipts_for`), groups in order of first seen."""
    groups: dict[Hashable, list[Acknowledged]] = {}
    for message in messages:
        groups.setdefault(receipt_group(message), []).append(message)
    for members in groups.values():
        yield from receipts_for(members)
