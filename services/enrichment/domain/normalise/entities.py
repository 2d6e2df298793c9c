"""Every entity of a message body to its canonical form and index keys."""

from typing import Any

from shared.contracts.entities import Document, Entities, Firearm, Organisation, Person, Phone, Place, Vehicle
from shared.contracts.events import EntityType, NormalisedEntity
from services.enrichment.domain.normalise.countries import country_alpha2
from services.enrichment.domain.normalise.documents import normalise_document
from services.enrichment.domain.normalise.keys import UNKNOWN_COUNTRY, make_key
from services.enrichment.domain.normalise.names import parse_name
from services.enrichment.domain.normalise.phones import normalise_phone
from services.enrichment.domain.normalise.places import normalise_place
from services.enrichment.domain.normalise.text import alnum_upper, fold
from services.enrichment.domain.normalise.vehicles import normalise_plate, normalise_vin, vin_check_digit_ok

Canonical = dict[str, Any]
MIN_SERIAL_LENGTH = 4


def _unique(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(k for k in keys if k))


def document_canonical(document: Document) -> tuple[Canonical, list[str]]:
    normalised = normalise_document(document.type, document.number, document.issuing_country, document.mrz)
    canonical = {
        "type": normalised.type,
        "number": normalised.number,
        "issuing_country": normalised.issuing_country,
        "mrz_valid": normalised.mrz_valid,
    }
    if not normalised.number:
        return canonical, []
    country = normalised.issuing_country or UNKNOWN_COUNTRY
    return canonical, [make_key("doc", normalised.type, country, normalised.number), make_key("docnum", normalised.number)]


def _name_entry(text: str) -> tuple[Canonical, list[str]]:
    parsed = parse_name(text)
    entry = {"text": text, "key": parsed.key, "script": "arabic" if parsed.arabic else "latin"}
    keys = [make_key("nametok", t.key) for t in parsed.tokens] + [make_key("skel", t.skeleton) for t in parsed.tokens if t.skeleton]
    return entry, keys


def person_canonical(person: Person, reporting_country: str | None) -> tuple[Canonical, list[str]]:
    names, aliases, keys, document_keys, documents = [], [], [], [], []
    for text in person.names:
        entry, token_keys = _name_entry(text)
        names.append(entry)
        keys += [make_key("name", entry["key"]), *token_keys]
    for text in person.aliases:
        entry, _ = _name_entry(text)
        aliases.append(entry)
        keys.append(make_key("alias", entry["key"]))
    for document in person.documents:
        canonical, doc_keys = document_canonical(document)
        documents.append(canonical)
        document_keys += doc_keys
    birth_place = place_canonical(Place(name=person.birth_place), None)[0] if person.birth_place else None
    canonical = {
        "names": names,
        "aliases": aliases,
        "birth_date": person.birth_date,
        "birth_place": birth_place,
        "nationality": country_alpha2(person.nationality),
        "gender": str(person.gender),
        "documents": documents,
    }
    return canonical, _unique(document_keys + keys)


def organisation_canonical(organisation: Organisation, reporting_country: str | None) -> tuple[Canonical, list[str]]:
    names = [fold(organisation.name), *(fold(a) for a in organisation.aliases)]
    keys = [make_key("org", n) for n in names] + [make_key("orgtok", w) for w in names[0].split() if len(w) > 2]
    return {"name": names[0], "aliases": names[1:], "country": country_alpha2(organisation.country)}, _unique(keys)


def vehicle_canonical(vehicle: Vehicle, reporting_country: str | None) -> tuple[Canonical, list[str]]:
    keys: list[str] = []
    canonical: Canonical = {"plate": None, "plate_country": country_alpha2(vehicle.plate_country), "vin": None, "vin_check_ok": None}
    if vehicle.plate:
        plate = normalise_plate(vehicle.plate, plate_country=vehicle.plate_country)
        if plate.number:
            canonical.update(plate=plate.number, plate_country=plate.country)
            keys += [make_key("plate", plate.country or UNKNOWN_COUNTRY, plate.number), make_key("platenum", plate.number)]
    if vehicle.vin:
        vin = normalise_vin(vehicle.vin)
        canonical.update(vin=vin, vin_check_ok=vin_check_digit_ok(vin) if len(vin) == 17 else None)
        keys.insert(0, make_key("vin", vin))
    canonical.update(make=_fold_or_none(vehicle.make), model=_fold_or_none(vehicle.model), colour=_fold_or_none(vehicle.colour))
    return canonical, _unique(keys)


def firearm_canonical(firearm: Firearm, reporting_country: str | None) -> tuple[Canonical, list[str]]:
    serial = alnum_upper(firearm.serial) if firearm.serial else None
    canonical = {"serial": serial, "make": _fold_or_none(firearm.make), "model": _fold_or_none(firearm.model),
                 "calibre": _fold_or_none(firearm.calibre)}
    keys = [make_key("firearm", "serial", serial)] if serial and len(serial) >= MIN_SERIAL_LENGTH else []
    return canonical, keys


def phone_canonical(phone: Phone, reporting_country: str | None) -> tuple[Canonical, list[str]]:
    normalised = normalise_phone(phone.number, country=country_alpha2(phone.country), reporting_country=reporting_country)
    canonical = {"e164": normalised.e164, "digits": normalised.digits, "region": normalised.region, "valid": normalised.valid}
    keys = [make_key("phone", normalised.e164)] if normalised.e164 else []
    if len(normalised.digits) >= 8:
        keys.append(make_key("phonedigits", normalised.digits[-8:]))
    return canonical, keys


def place_canonical(place: Place, reporting_country: str | None) -> tuple[Canonical, list[str]]:
    normalised = normalise_place(place.name, country=country_alpha2(place.country))
    match = normalised.match
    canonical: Canonical = {"name": normalised.folded, "country": normalised.country, "geonameid": None, "gazetteer_name": None,
                            "coordinates": None}
    if match is not None:
        canonical.update(geonameid=match.geonameid, gazetteer_name=match.name,
                         coordinates={"lat": match.latitude, "lon": match.longitude})
    if place.coordinates is not None:
        canonical["coordinates"] = {"lat": place.coordinates.lat, "lon": place.coordinates.lon}
    keys = [make_key("geo", str(match.geonameid))] if match else []
    keys.append(make_key("place", normalised.country or UNKNOWN_COUNTRY, normalised.folded))
    return canonical, keys


def _fold_or_none(value: str | None) -> str | None:
    return fold(value) if value else None


_BUILDERS = (
    (EntityType.PERSON, "persons", person_canonical),
    (EntityType.ORGANISATION, "organisations", organisation_canonical),
    (EntityType.VEHICLE, "vehicles", vehicle_canonical),
    (EntityType.DOCUMENT, "documents", lambda document, _country: document_canonical(document)),
    (EntityType.FIREARM, "firearms", firearm_canonical),
    (EntityType.PHONE, "phones", phone_canonical),
    (EntityType.PLACE, "places", place_canonical),
)


def normalise_entities(entities: Entities, *, reporting_country: str | None) -> list[NormalisedEntity]:
    """One NormalisedEntity per entity of every list, identifier keys first."""
    reporting_country = country_alpha2(reporting_country) if reporting_country else None
    result: list[NormalisedEntity] = []
    for entity_type, attribute, build in _BUILDERS:
        for position, entity in enumerate(getattr(entities, attribute)):
            canonical, keys = build(entity, reporting_country)
            result.append(NormalisedEntity(entity_type=entity_type, position=position, keys=keys, canonical=canonical))
    return result
