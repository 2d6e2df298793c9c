"""The bodies of the five kinds of message."""

from datetime import datetime
from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import model_validator

from shared.contracts.base import Contract, field
from shared.contracts.common import LongText, ShortText
from shared.contracts.entities import Entities, Place

_ENTITIES_EXAMPLE = {"persons": [{"names": ["Mohamed Ould Ahmed", "محمد ولد أحمد"], "birth_date": "1985"}]}


class AlertType(StrEnum):
    WANTED_PERSON = "wanted_person"
    MISSING_PERSON = "missing_person"
    STOLEN_VEHICLE = "stolen_vehicle"
    STOLEN_DOCUMENT = "stolen_document"
    STOLEN_FIREARM = "stolen_firearm"
    THREAT = "threat"


class CrimeCategory(StrEnum):
    TERRORISM = "terrorism"
    DRUG_TRAFFICKING = "drug_trafficking"
    ARMS_TRAFFICKING = "arms_trafficking"
    HUMAN_TRAFFICKING = "human_trafficking"
    MIGRANT_SMUGGLING = "migrant_smuggling"
    KIDNAPPING = "kidnapping"
    SMUGGLING = "smuggling"
    MONEY_LAUNDERING = "money_laundering"
    VEHICLE_CRIME = "vehicle_crime"
    DOCUMENT_FRAUD = "document_fraud"
    OTHER = "other"


class AcknowledgementState(StrEnum):
    RECEIVED = "received"
    READ = "read"
    ACTIONED = "actioned"
    REFUSED = "refused"


class AlertBody(Contract):
    alert_type: AlertType = field("What the alert is about.", "wanted_person")
    summary: LongText = field("What recipients must know and do.", "Wanted for the attack on the Inates post.")
    valid_until: datetime | None = field(
        "When the alert lapses; open-ended when absent.", "2027-06-30T00:00:00Z", default=None
    )
    entities: Entities = field("Persons, vehicles, documents... the alert concerns.", _ENTITIES_EXAMPLE, default_factory=Entities)
    supersedes: UUID | None = field(
        "The earlier alert of the same origin that this one updates or cancels (since 1.1).",
        "0b6f1c1e-6a4e-4d43-9a55-3d6f1f1f8a01",
        default=None,
    )
    cancelled: bool = field(
        "True when this alert cancels the alert it supersedes (since 1.1).", False, default=False
    )

    @model_validator(mode="after")
    def _cancellation_names_the_alert(self) -> Self:
        if self.cancelled and self.supersedes is None:
            raise ValueError("a cancellation names the alert it cancels in supersedes")
        return self


class ReportBody(Contract):
    crime_category: CrimeCategory = field("Category of crime reported.", "drug_trafficking")
    summary: LongText = field("What happened.", "Seizure of 2 t of cannabis resin near Arlit.")
    occurred_at: datetime | None = field("When it happened.", "2026-11-20T04:30:00Z", default=None)
    place: Place | None = field("Where it happened.", {"name": "Arlit", "country": "NE"}, default=None)
    entities: Entities = field("Persons, vehicles, documents... the report concerns.", _ENTITIES_EXAMPLE, default_factory=Entities)


class RfiBody(Contract):
    question: LongText = field("The request, phrased for the recipients.", "Do you hold records on this person?")
    deadline: datetime | None = field(
        "Answer wanted by; the platform sets one from the priority when absent.", "2026-12-05T12:00:00Z", default=None
    )
    entities: Entities = field("Subjects of the request.", _ENTITIES_EXAMPLE, default_factory=Entities)


class RfiResponseBody(Contract):
    answer: LongText = field("The answer to the request.", "Known to our services: arrested in 2019 in Niamey.")
    entities: Entities = field("Records returned with the answer.", _ENTITIES_EXAMPLE, default_factory=Entities)


MAX_ALSO_RECEIVED = 99


class AcknowledgementBody(Contract):
    state: AcknowledgementState = field("How far the recipient has got with the message.", "received")
    reason: ShortText | None = field("Why the message was refused; required for refused.", None, default=None)
    also_received: list[UUID] | None = field(
        "Further messages of the same origin received since the last receipt, like the one this acknowledges "
        "(`in_reply_to`): one receipt for many instead of one each (1.4; state received only).",
        ["3f1c9a2e-7b44-4d0e-9a51-0c2f6d8e1b37"], default=None, min_length=1, max_length=MAX_ALSO_RECEIVED)

    @model_validator(mode="after")
    def _refusal_has_reason(self) -> Self:
        if self.state is AcknowledgementState.REFUSED and not self.reason:
            raise ValueError("a refused acknowledgement needs a reason")
        if self.also_received is not None and self.state is not AcknowledgementState.RECEIVED:
            raise ValueError("only a receipt (state received) acknowledges further messages")
        return self
