"""Messages between platforms.

A platform's officer sends a command (``Submit*``, without the fields the platform stamps);
the platform stamps it and publishes the event (past tense) that travels through the hub.
"""

from datetime import datetime
from typing import Annotated, Literal, Self, Union
from uuid import UUID

from pydantic import Field, TypeAdapter, model_validator

from shared.contracts.base import SCHEMA_VERSION, Contract, field
from shared.contracts.bodies import AcknowledgementBody, AlertBody, ReportBody, RfiBody, RfiResponseBody
from shared.contracts.common import (
    ALL,
    HUB,
    AsciiDigits,
    Evaluation,
    HandlingCode,
    Language,
    NationalService,
    PlatformCode,
    Priority,
    Recipient,
    ShortText,
)

MESSAGE_ID_EXAMPLE = "0b6f1c1e-6a4e-4d43-9a55-3d6f1f1f8a01"

Kind = Literal["alert", "report", "rfi", "rfi_response", "acknowledgement"]
EVALUATED_KINDS = frozenset({"alert", "report"})
REPLY_KINDS = frozenset({"rfi_response", "acknowledgement"})


class Header(Contract):
    """What the submitting officer decides."""

    submitted_by: NationalService = field("National service that submits the message.", "police")
    correlation_id: UUID | None = field(
        "Groups messages of one case or exchange; defaults to the message id.", MESSAGE_ID_EXAMPLE, default=None
    )
    in_reply_to: UUID | None = field(
        "The message this one answers (required for rfi_response and acknowledgement).", None, default=None
    )
    recipients: list[Recipient] = field(
        'Who should receive it: ["ALL"] for every active member and the hub, platform codes, or ["HUB"].',
        ["ALL"],
        default_factory=lambda: [ALL],
        min_length=1,
        max_length=20,
    )
    handling_code: HandlingCode = field(
        "SIENA handling code: H0 law-enforcement use only, H1 not for judicial proceedings without permission, "
        "H2 no onward dissemination without permission, H3 other restriction (see handling_note).",
        "H0",
        default=HandlingCode.H0,
    )
    handling_note: ShortText | None = field("The restriction in words; required for H3.", None, default=None)
    evaluation: Evaluation | None = field(
        "SIENA 4x4 evaluation; required for alerts and reports.", {"source": "B", "information": "2"}, default=None
    )
    priority: Priority = field("urgent traffic overtakes routine traffic.", "urgent", default=Priority.ROUTINE)
    language: Language = field("Language of the free text.", "fr", default=Language.FR)

    @model_validator(mode="after")
    def _header_rules(self) -> Self:
        if self.handling_code is HandlingCode.H3 and not self.handling_note:
            raise ValueError("handling_note is required when handling_code is H3")
        if (ALL in self.recipients or HUB in self.recipients) and len(self.recipients) > 1:
            raise ValueError(f'recipients "{ALL}" and "{HUB}" stand alone')
        if len(set(self.recipients)) != len(self.recipients):
            raise ValueError("recipients must not repeat")
        kind = getattr(self, "kind", None)
        if kind in EVALUATED_KINDS and self.evaluation is None:
            raise ValueError(f"evaluation is required for {kind}")
        if kind in REPLY_KINDS and self.in_reply_to is None:
            raise ValueError(f"in_reply_to is required for {kind}")
        return self


class Stamp(Contract):
    """What the platform stamps on every message it publishes."""

    message_id: UUID = field("Unique id, stamped by the origin platform.", MESSAGE_ID_EXAMPLE)
    schema_version: Annotated[str, AsciiDigits] = field(
        "Contract version major.minor.", SCHEMA_VERSION, default=SCHEMA_VERSION, pattern=r"^\d+\.\d+$"
    )
    origin: PlatformCode = field("Platform that published the message.", "NE")
    created_at: datetime = field("When the origin platform accepted it (UTC).", "2026-11-29T10:15:00Z")


class SubmitAlert(Header):
    kind: Literal["alert"] = field("Kind of message.", "alert")
    body: AlertBody = field(
        "The alert.", {"alert_type": "wanted_person", "summary": "Wanted for armed robbery.", "entities": {}}
    )


class SubmitReport(Header):
    kind: Literal["report"] = field("Kind of message.", "report")
    body: ReportBody = field("The report.", {"crime_category": "smuggling", "summary": "Fuel smuggling at Assamaka."})


class SubmitRfi(Header):
    kind: Literal["rfi"] = field("Kind of message.", "rfi")
    body: RfiBody = field("The request for information.", {"question": "Is this vehicle known to you?"})


class SubmitRfiResponse(Header):
    kind: Literal["rfi_response"] = field("Kind of message.", "rfi_response")
    body: RfiResponseBody = field("The answer.", {"answer": "Not known to our services."})


class SubmitAcknowledgement(Header):
    kind: Literal["acknowledgement"] = field("Kind of message.", "acknowledgement")
    body: AcknowledgementBody = field("The acknowledgement.", {"state": "read"})


class AlertIssued(Stamp, SubmitAlert):
    pass


class ReportFiled(Stamp, SubmitReport):
    pass


class RfiRaised(Stamp, SubmitRfi):
    pass


class RfiAnswered(Stamp, SubmitRfiResponse):
    pass


class MessageAcknowledged(Stamp, SubmitAcknowledgement):
    pass


SubmitMessage = Annotated[
    Union[SubmitAlert, SubmitReport, SubmitRfi, SubmitRfiResponse, SubmitAcknowledgement],
    Field(discriminator="kind"),
]
Message = Annotated[
    Union[AlertIssued, ReportFiled, RfiRaised, RfiAnswered, MessageAcknowledged],
    Field(discriminator="kind"),
]
SUBMIT_ADAPTER: TypeAdapter[SubmitMessage] = TypeAdapter(SubmitMessage)
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)

_EVENT_FOR_COMMAND: dict[type[Header], type[Stamp]] = {
    SubmitAlert: AlertIssued,
    SubmitReport: ReportFiled,
    SubmitRfi: RfiRaised,
    SubmitRfiResponse: RfiAnswered,
    SubmitAcknowledgement: MessageAcknowledged,
}


def stamp(command: Header, *, message_id: UUID, origin: str, created_at: datetime) -> "Message":
    """The event a platform publishes for an accepted command."""
    event_type = _EVENT_FOR_COMMAND[type(command)]
    # the command's own values, not a dump of them: its body and entities are validated already, and pydantic
    # takes a model instance of the field's own type as it is (a dump would be validated all over again)
    fields = {name: getattr(command, name) for name in type(command).model_fields}
    fields["correlation_id"] = command.correlation_id or message_id
    return event_type(**fields, message_id=message_id, origin=origin, created_at=created_at)
