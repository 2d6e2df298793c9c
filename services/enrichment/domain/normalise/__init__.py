"""Normalisers: names, phones, vehicles, documents, places and countries to comparable forms and keys."""

from services.enrichment.domain.normalise.countries import country_alpha2
from services.enrichment.domain.normalise.documents import mrz_check_digit, normalise_document, parse_mrz
from services.enrichment.domain.normalise.entities import (
    document_canonical,
    firearm_canonical,
    normalise_entities,
    organisation_canonical,
    person_canonical,
    phone_canonical,
    place_canonical,
    vehicle_canonical,
)
from services.enrichment.domain.normalise.keys import BLOCKING_KEY_PREFIXES, EXACT_KEY_PREFIXES, is_identifier_key
from services.enrichment.domain.normalise.names import NameToken, ParsedName, name_key, parse_name
from services.enrichment.domain.normalise.phones import normalise_phone
from services.enrichment.domain.normalise.places import normalise_place
from services.enrichment.domain.normalise.vehicles import normalise_plate, normalise_vin

__all__ = [
    "BLOCKING_KEY_PREFIXES",
    "EXACT_KEY_PREFIXES",
    "NameToken",
    "ParsedName",
    "country_alpha2",
    "document_canonical",
    "firearm_canonical",
    "is_identifier_key",
    "mrz_check_digit",
    "name_key",
    "normalise_document",
    "normalise_entities",
    "normalise_phone",
    "normalise_place",
    "normalise_plate",
    "normalise_vin",
    "organisation_canonical",
    "parse_mrz",
    "parse_name",
    "person_canonical",
    "phone_canonical",
    "place_canonical",
    "vehicle_canonical",
]
