"""Entities that message bodies carry: the things the hub indexes and cross-matches."""

from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

from shared.contracts.base import Contract, field
from shared.contracts.common import CountryCode, PartialDate, ShortText


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class DocumentType(StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"
    VEHICLE_REGISTRATION = "vehicle_registration"
    OTHER = "other"


class Document(Contract):
    type: DocumentType = field("Kind of document.", "passport")
    number: ShortText = field("Document number as printed.", "A1234567")
    issuing_country: CountryCode | None = field(
        "ISO 3166-1 code of the issuing state.", "NE", default=None
    )
    mrz: list[Annotated[str, StringConstraints(max_length=44)]] = field(
        "Machine-readable zone lines (ICAO 9303), when read from the document.",
        ["P<NERMOUSSA<<ISSOUFOU<<<<<<<<<<<<<<<<<<<<<<<", "A1234567<6NER8501019M3001019<<<<<<<<<<<<<<00"],
        default_factory=list,
        max_length=3,
    )


class Person(Contract):
    names: list[ShortText] = field(
        "Every way the name is written, in any script (Latin, Arabic, ...). The first is the main form.",
        ["Mohamed Ould Ahmed", "محمد ولد أحمد"],
        min_length=1,
        max_length=20,
    )
    aliases: list[ShortText] = field("Nicknames and noms de guerre.", ["Abou Khaled"], default_factory=list, max_length=20)
    birth_date: PartialDate | None = field(
        "Birth date; may be partial: YYYY, YYYY-MM or YYYY-MM-DD.", "1985", default=None
    )
    birth_place: ShortText | None = field("Place of birth as reported.", "Gao", default=None)
    nationality: CountryCode | None = field("ISO 3166-1 code of nationality.", "MR", default=None)
    gender: Gender = field("Gender as reported.", "male", default=Gender.UNKNOWN)
    documents: list[Document] = field(
        "Identity and travel documents held.",
        [{"type": "passport", "number": "B0987654", "issuing_country": "MR"}],
        default_factory=list,
        max_length=20,
    )


class Organisation(Contract):
    name: ShortText = field("Name of the group, company or network.", "Katiba Macina")
    aliases: list[ShortText] = field("Other names used.", ["FLM"], default_factory=list, max_length=20)
    country: CountryCode | None = field("Main country of activity.", "ML", default=None)


class Vehicle(Contract):
    plate: ShortText | None = field("Registration plate as reported.", "AB-1234-NE", default=None)
    plate_country: CountryCode | None = field("State that issued the plate.", "NE", default=None)
    vin: Annotated[str, StringConstraints(min_length=11, max_length=17)] | None = field(
        "Vehicle identification number (17 characters; older vehicles may have fewer).", "JTEBU11F670123456", default=None
    )
    make: ShortText | None = field("Make.", "Toyota", default=None)
    model: ShortText | None = field("Model.", "Land Cruiser", default=None)
    colour: ShortText | None = field("Colour.", "white", default=None)


class Firearm(Contract):
    make: ShortText | None = field("Manufacturer.", "Kalashnikov", default=None)
    model: ShortText | None = field("Model.", "AKM", default=None)
    serial: ShortText | None = field("Serial number.", "1974-123456", default=None)
    calibre: ShortText | None = field("Calibre.", "7.62x39mm", default=None)


class Phone(Contract):
    number: Annotated[str, StringConstraints(min_length=3, max_length=32)] = field(
        "Phone number as reported; national format is read with the reporting state as region.", "+227 90 12 34 56"
    )
    country: CountryCode | None = field("State of the number when known.", "NE", default=None)


class Coordinates(Contract):
    lat: float = field("Latitude, WGS 84.", 16.2719, ge=-90, le=90)
    lon: float = field("Longitude, WGS 84.", -0.0447, ge=-180, le=180)


class Place(Contract):
    name: ShortText = field("Place name as reported.", "Gao")
    country: CountryCode | None = field("State where the place is; disambiguates homonyms.", "ML", default=None)
    coordinates: Coordinates | None = field("Coordinates when known.", {"lat": 16.2719, "lon": -0.0447}, default=None)


class Entities(Contract):
    persons: list[Person] = field(
        "Persons concerned.", [{"names": ["Mohamed Ould Ahmed"], "birth_date": "1985"}], default_factory=list, max_length=200
    )
    organisations: list[Organisation] = field(
        "Organisations concerned.", [{"name": "Katiba Macina"}], default_factory=list, max_length=200
    )
    vehicles: list[Vehicle] = field(
        "Vehicles concerned.", [{"plate": "AB-1234-NE", "plate_country": "NE"}], default_factory=list, max_length=200
    )
    documents: list[Document] = field(
        "Documents concerned that are not attached to a person.",
        [{"type": "passport", "number": "A1234567", "issuing_country": "NE"}],
        default_factory=list,
        max_length=200,
    )
    firearms: list[Firearm] = field(
        "Firearms concerned.", [{"make": "Kalashnikov", "serial": "1974-123456"}], default_factory=list, max_length=200
    )
    phones: list[Phone] = field("Phone numbers concerned.", [{"number": "+22790123456"}], default_factory=list, max_length=200)
    places: list[Place] = field("Places concerned.", [{"name": "Gao", "country": "ML"}], default_factory=list, max_length=200)
