import json

import pytest

from shared.contracts.entities import Entities
from shared.contracts.events import EntityType
from services.enrichment.domain.normalise import is_identifier_key, normalise_entities

pytestmark = pytest.mark.unit

BODY = {
    "persons": [{"names": ["Mohamed Ould Ahmed", "محمد ولد أحمد"], "birth_date": "1985", "nationality": "MRT",
                 "documents": [{"type": "passport", "number": "B 098-7654", "issuing_country": "MR"}]}],
    "organisations": [{"name": "Katiba Macina"}],
    "vehicles": [{"plate": "AB-1234-NE", "plate_country": "NE", "vin": "JTEBU11F670123456"}],
    "documents": [{"type": "passport", "number": "A1234567", "issuing_country": "NER"}],
    "firearms": [{"make": "Kalashnikov", "serial": "1974-123456"}],
    "phones": [{"number": "90 12 34 56"}, {"number": "+223 76 12 34 56"}],
    "places": [{"name": "Gao", "country": "BF"}],
}


def _normalised(reporting_country: str | None = "NE"):
    return normalise_entities(Entities.model_validate(BODY), reporting_country=reporting_country)


def test_one_normalised_entity_per_entity_with_its_position() -> None:
    result = _normalised()
    assert [(n.entity_type, n.position) for n in result] == [
        (EntityType.PERSON, 0), (EntityType.ORGANISATION, 0), (EntityType.VEHICLE, 0), (EntityType.DOCUMENT, 0),
        (EntityType.FIREARM, 0), (EntityType.PHONE, 0), (EntityType.PHONE, 1), (EntityType.PLACE, 0),
    ]


def test_identifier_keys_are_normalised() -> None:
    keys = {k for n in _normalised() for k in n.keys}
    assert {"doc:passport:MR:B0987654", "phone:+22790123456", "phone:+22376123456", "vin:JTEBU11F670123456",
            "plate:NE:AB1234", "firearm:serial:1974123456", "doc:passport:NE:A1234567"} <= keys


def test_person_carries_name_and_blocking_keys_both_scripts_agree() -> None:
    person = _normalised()[0]
    assert "name:mohamed ould ahmed" in person.keys
    assert {"nametok:mohamed", "nametok:ahmed"} <= set(person.keys)
    assert person.canonical["nationality"] == "MR"
    assert {n["key"] for n in person.canonical["names"]} == {"mohamed ould ahmed"}


def test_identifier_keys_are_distinguishable_from_blocking_keys() -> None:
    assert is_identifier_key("phone:+22790123456") and is_identifier_key("doc:passport:MR:B0987654")
    assert not is_identifier_key("name:mohamed ould ahmed") and not is_identifier_key("skel:mmt")
    assert not is_identifier_key("phonedigits:90123456")


def test_hub_reported_national_phone_gets_no_identifier_key() -> None:
    phone = _normalised(reporting_country=None)[5]
    assert not any(is_identifier_key(k) for k in phone.keys)


def test_canonical_forms_are_json_serialisable() -> None:
    for normalised in _normalised():
        json.dumps(normalised.canonical)


def test_place_canonical_names_the_gazetteer_entry() -> None:
    place = _normalised()[-1]
    assert place.canonical["country"] == "BF" and place.canonical["geonameid"] is not None
