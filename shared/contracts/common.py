"""Small value types used across contracts. Platform codes are data, so they are patterns, not enums."""

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from shared.contracts.base import Contract, field


def _ascii_digits(value: str) -> str:
    """A pattern's \\d means 0-9 in JSON Schema (ECMA-262) but any script's digits to pydantic: refuse ١٩٨٥."""
    if not value.isascii():
        raise ValueError("digits must be 0-9 (ASCII), as the schema's pattern says")
    return value


AsciiDigits = AfterValidator(_ascii_digits)
PlatformCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,5}$")]
Recipient = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,5}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")]
PartialDate = Annotated[
    str, StringConstraints(pattern=r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"), AsciiDigits
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]

ALL = "ALL"
HUB = "HUB"


class NationalService(StrEnum):
    POLICE = "police"
    GENDARMERIE = "gendarmerie"
    NATIONAL_GUARD = "national_guard"
    CUSTOMS = "customs"
    JUSTICE = "justice"
    INTELLIGENCE = "intelligence"
    REGIONAL_PLATFORM = "regional_platform"
    PLATFORM_SYSTEM = "platform_system"


class HandlingCode(StrEnum):
    H0 = "H0"
    H1 = "H1"
    H2 = "H2"
    H3 = "H3"


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


class Language(StrEnum):
    FR = "fr"
    AR = "ar"
    EN = "en"


class SourceReliability(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    X = "X"


class InformationCredibility(StrEnum):
    CONFIRMED = "1"
    KNOWN_TO_SOURCE = "2"
    NOT_KNOWN_TO_SOURCE = "3"
    CANNOT_BE_JUDGED = "4"


class Evaluation(Contract):
    """SIENA 4x4 evaluation of the source and of the information."""

    source: SourceReliability = field(
        "Reliability of the source: A reliable, B mostly reliable, C not reliable, X cannot be judged.", "B"
    )
    information: InformationCredibility = field(
        "Credibility of the information: 1 known without reservation, 2 known personally to the source, "
        "3 not known personally to the source, 4 cannot be judged.",
        "2",
    )
