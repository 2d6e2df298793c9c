"""Phone numbers to E.164, read with the number's own state or the reporting state as default region."""

from dataclasses import dataclass

import phonenumbers

from services.enrichment.domain.normalise.text import ascii_digits


@dataclass(frozen=True, slots=True)
class NormalisedPhone:
    e164: str | None
    digits: str
    region: str | None
    valid: bool


def normalise_phone(number: str, *, country: str | None = None, reporting_country: str | None = None) -> NormalisedPhone:
    raw = ascii_digits(number).strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    digits = "".join(ch for ch in raw if ch.isdigit())
    for region in _regions(raw, country, reporting_country):
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            return NormalisedPhone(
                e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
                digits=digits,
                region=phonenumbers.region_code_for_number(parsed),
                valid=phonenumbers.is_valid_number(parsed),
            )
    return NormalisedPhone(e164=None, digits=digits, region=None, valid=False)


def _regions(raw: str, country: str | None, reporting_country: str | None) -> list[str | None]:
    if raw.startswith("+"):
        return [None]
    return [region for region in dict.fromkeys([country, reporting_country]) if region]
