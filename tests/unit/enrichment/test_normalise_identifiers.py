import pytest

from services.enrichment.domain.normalise import (
    country_alpha2,
    mrz_check_digit,
    normalise_phone,
    normalise_place,
    normalise_plate,
    normalise_vin,
    parse_mrz,
)
from services.enrichment.domain.normalise.vehicles import vin_check_digit_ok

pytestmark = pytest.mark.unit

ICAO_SPECIMEN = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]


def test_national_phone_number_is_read_with_the_reporting_state() -> None:
    assert normalise_phone("90 12 34 56", reporting_country="NE").e164 == "+22790123456"
    assert normalise_phone("22 12 34 56", reporting_country="MR").e164 == "+22222123456"


def test_international_forms_of_one_phone_agree() -> None:
    forms = ["+227 90 12 34 56", "00227-90-12-34-56", "(+227) 90.12.34.56", "+٢٢٧٩٠١٢٣٤٥٦"]
    assert {normalise_phone(f, reporting_country="TD").e164 for f in forms} == {"+22790123456"}


def test_phone_own_country_wins_over_reporting_state() -> None:
    assert normalise_phone("76 12 34 56", country="ML", reporting_country="NE").e164 == "+22376123456"


def test_national_number_without_any_region_has_no_e164() -> None:
    assert normalise_phone("90 12 34 56").e164 is None


def test_plate_spellings_agree_and_state_code_is_lifted() -> None:
    forms = ["AB-1234-NE", "ab 1234", "AB1234", "AB–١٢٣٤"]
    assert {normalise_plate(f, plate_country="NE").number for f in forms} == {"AB1234"}
    assert normalise_plate("1234 AB RIM") == normalise_plate("1234-AB", plate_country="MR")


def test_vin_is_folded_and_checked() -> None:
    assert normalise_vin("jteb u11f6-7o123456") == "JTEBU11F670123456"
    assert vin_check_digit_ok("1M8GDM9AXKP042788")
    assert not vin_check_digit_ok("1M8GDM9A1KP042788")


def test_icao_specimen_mrz_check_digits_verify() -> None:
    data = parse_mrz(ICAO_SPECIMEN)
    assert data is not None and data.valid
    assert data.number == "L898902C3" and data.issuing_state == "UTO" and data.birth_date == "740812"


def test_mrz_with_a_wrong_check_digit_is_invalid() -> None:
    tampered = [ICAO_SPECIMEN[0], ICAO_SPECIMEN[1].replace("L898902C36", "L898902C37")]
    data = parse_mrz(tampered)
    assert data is not None and not data.number_ok and not data.valid


def test_mrz_check_digit_counts_letters_and_fillers() -> None:
    assert mrz_check_digit("L898902C3") == "6"
    assert mrz_check_digit("740812") == "2"
    assert mrz_check_digit("<<<<<") == "0"


def test_td1_identity_card_mrz_is_read() -> None:
    lines = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]
    data = parse_mrz(lines)
    assert data is not None and data.valid and data.number == "D23145890"


@pytest.mark.parametrize(("value", "expected"), [("NER", "NE"), ("ne", "NE"), ("Tchad", "TD"), ("Mauritanie", "MR"),
                                                  ("Burkina Faso", "BF"), ("Mali", "ML"), ("Chad", "TD"), ("nowhere", None)])
def test_country_references_resolve_to_alpha2(value: str, expected: str | None) -> None:
    assert country_alpha2(value) == expected


def test_homonymous_places_are_disambiguated_by_country() -> None:
    mali, burkina = normalise_place("Gao", country="ML"), normalise_place("Gao", country="BF")
    assert mali.match and burkina.match and mali.match.geonameid != burkina.match.geonameid
    assert burkina.match.country == "BF"


def test_french_and_english_names_of_timbuktu_agree() -> None:
    assert normalise_place("Tombouctou").match == normalise_place("Timbuktu").match
    assert normalise_place("Tombouctou").match.country == "ML"


def test_arabic_place_name_resolves() -> None:
    place = normalise_place("نواكشوط")
    assert place.match is not None and place.match.name == "Nouakchott"
