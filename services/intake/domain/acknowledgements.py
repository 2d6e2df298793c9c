"""The acknowledgements a platform sends about messages it received."""

from shared.contracts.bodies import AcknowledgementBody, AcknowledgementState
from shared.contracts.common import NationalService
from shared.contracts.messages import Message, SubmitAcknowledgement


def acknowledgement_of(
    message: Message, state: AcknowledgementState, *, reason: str | None = None,
    submitted_by: NationalService = NationalService.PLATFORM_SYSTEM,
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
        body=AcknowledgementBody(state=state, reason=reason),
    )


def needs_receipt(message: Message) -> bool:
    return message.kind != "acknowledgement"
