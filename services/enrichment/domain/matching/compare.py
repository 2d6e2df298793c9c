"""Pairwise comparison of two records of one entity type, with outcome and explanation."""

from typing import Any

from rapidfuzz.distance import Levenshtein

from shared.contracts.entities import Document, Firearm, Person, Phone, Vehicle
from shared.contracts.events import EntityType
from services.enrichment.domain.matching.name_scoring import NameComparer, compare_names
from services.enrichment.domain.matching.person_scoring import Comparison, PersonFeatures, best_name_score, score_persons
from services.enrichment.domain.matching.thresholds import outcome_for
from services.enrichment.domain.normalise.entities import (
    document_canonical,
    firearm_canonical,
    person_canonical,
    phone_canonical,
    vehicle_canonical,
)

Canonical = dict[str, Any]
NEAR_IDENTIFIER_SCORE = 0.75
COMPARED_FIELDS: dict[EntityType, tuple[str, ...]] = {
    EntityType.VEHICLE: ("vin", "plate", "plate_country"),
    EntityType.DOCUMENT: ("number", "type", "issuing_country"),
    EntityType.PHONE: ("e164", "digits"),
    EntityType.FIREARM: ("serial", "make"),
}


def canonical_of(entity: Person | Vehicle | Document | Phone | Firearm, reporting_country: str | None = None) -> tuple[EntityType, Canonical]:
    if isinstance(entity, Person):
        return EntityType.PERSON, person_canonical(entity, reporting_country)[0]
    if isinstance(entity, Vehicle):
        return EntityType.VEHICLE, vehicle_canonical(entity, reporting_country)[0]
    if isinstance(entity, Document):
        return EntityType.DOCUMENT, document_canonical(entity)[0]
    if isinstance(entity, Phone):
        return EntityType.PHONE, phone_canonical(entity, reporting_country)[0]
    if isinstance(entity, Firearm):
        return EntityType.FIREARM, firearm_canonical(entity, reporting_country)[0]
    raise TypeError(f"no comparison for {type(entity).__name__}")


def compare(left: Any, right: Any, *, reporting_country: str | None = None) -> Comparison:
    """Compares two contract models (Person, Vehicle, Document, Phone, Firearm) of the same type."""
    left_type, left_canonical = canonical_of(left, reporting_country)
    right_type, right_canonical = canonical_of(right, reporting_country)
    if left_type != right_type:
        raise TypeError(f"cannot compare {left_type} with {right_type}")
    return compare_canonical(left_type, left_canonical, right_canonical)


def compare_canonical(entity_type: EntityType | str, left: Canonical, right: Canonical) -> Comparison:
    entity_type = EntityType(entity_type)
    if entity_type == EntityType.PERSON:
        return compare_person_features(PersonFeatures.from_canonical(left), PersonFeatures.from_canonical(right))
    fields = COMPARED_FIELDS[entity_type]
    # Scorers see only the compared fields, so the index may keep just those and still score alike.
    score, explanation = _IDENTIFIER_SCORERS[entity_type](_compared_part(fields, left), _compared_part(fields, right))
    return Comparison(score, outcome_for(score), explanation)


def _compared_part(fields: tuple[str, ...], canonical: Canonical) -> Canonical:
    return {field: canonical.get(field) for field in fields}


def compare_person_features(left: PersonFeatures, right: PersonFeatures, *,
                            compare_names: NameComparer = compare_names) -> Comparison:
    name_score, name_explanation = best_name_score(left, right, compare_names=compare_names)
    score, explanation = score_persons(left, right, name_score, name_explanation)
    return Comparison(score, outcome_for(score), explanation)


def _near(a: str, b: str) -> bool:
    return len(a) >= 5 and Levenshtein.distance(a, b) == 1


def _vehicle(left: Canonical, right: Canonical) -> tuple[float, list[str]]:
    if left.get("vin") and left.get("vin") == right.get("vin"):
        return 1.0, [f"VIN identical ({left['vin']})"]
    plates = left.get("plate"), right.get("plate")
    countries = left.get("plate_country"), right.get("plate_country")
    countries_conflict = all(countries) and countries[0] != countries[1]
    if all(plates) and plates[0] == plates[1]:
        if countries_conflict:
            return 0.5, [f"plate identical ({plates[0]}) but states differ ({countries[0]} vs {countries[1]})"]
        if all(countries):
            return 1.0, [f"plate identical ({countries[0]} {plates[0]})"]
        return 0.8, [f"plate identical ({plates[0]}), state unknown on one side"]
    if all(plates) and _near(plates[0], plates[1]) and not countries_conflict:
        return NEAR_IDENTIFIER_SCORE, [f"plates one character apart ({plates[0]} vs {plates[1]})"]
    if left.get("vin") and right.get("vin") and _near(left["vin"], right["vin"]):
        return NEAR_IDENTIFIER_SCORE, ["VINs one character apart"]
    return 0.0, ["no identifier in common"]


def _document(left: Canonical, right: Canonical) -> tuple[float, list[str]]:
    if not left.get("number") or left.get("number") != right.get("number"):
        if left.get("number") and right.get("number") and _near(left["number"], right["number"]) and left.get("type") == right.get("type"):
            return NEAR_IDENTIFIER_SCORE, [f"document numbers one character apart ({left['number']} vs {right['number']})"]
        return 0.0, ["document numbers differ"]
    countries = left.get("issuing_country"), right.get("issuing_country")
    if all(countries) and countries[0] != countries[1]:
        return 0.3, [f"same number, issuing states differ ({countries[0]} vs {countries[1]})"]
    if left.get("type") != right.get("type"):
        return 0.7, [f"same number, document types differ ({left.get('type')} vs {right.get('type')})"]
    if not all(countries):
        return 0.85, [f"{left.get('type')} number identical, issuing state unknown on one side"]
    return 1.0, [f"{left.get('type')} number identical ({countries[0]} {left['number']})"]


def _phone(left: Canonical, right: Canonical) -> tuple[float, list[str]]:
    if left.get("e164") and left.get("e164") == right.get("e164"):
        return 1.0, [f"phone identical ({left['e164']})"]
    digits = left.get("digits") or "", right.get("digits") or ""
    if len(digits[0]) >= 8 and len(digits[1]) >= 8 and digits[0][-8:] == digits[1][-8:]:
        return 0.8, [f"same last 8 digits ({digits[0][-8:]}), country unknown on one side"]
    return 0.0, ["phone numbers differ"]


def _firearm(left: Canonical, right: Canonical) -> tuple[float, list[str]]:
    if left.get("serial") and left.get("serial") == right.get("serial"):
        makes = left.get("make"), right.get("make")
        if all(makes) and makes[0] != makes[1]:
            return 0.8, [f"serial identical ({left['serial']}), makes differ"]
        return 1.0, [f"serial identical ({left['serial']})"]
    return 0.0, ["serials differ"]


_IDENTIFIER_SCORERS = {
    EntityType.VEHICLE: _vehicle,
    EntityType.DOCUMENT: _document,
    EntityType.PHONE: _phone,
    EntityType.FIREARM: _firearm,
}
