import pytest

from shared.contracts.entities import Document, Person, Phone, Vehicle
from services.enrichment.domain.matching import compare

pytestmark = pytest.mark.unit


def person(*names: str, **fields) -> Person:
    return Person.model_validate({"names": list(names), **fields})


def test_latin_and_arabic_forms_of_one_person_are_a_hit() -> None:
    result = compare(person("Mohamed Ould Ahmed", birth_date="1985"), person("محمد ولد أحمد", birth_date="1985-03-01"))
    assert result.outcome == "hit"
    assert any("across scripts" in line for line in result.explanation)


def test_different_father_is_not_a_hit() -> None:
    assert compare(person("Mohamed Ould Ahmed"), person("Mohamed Ould Mahmoud")).outcome == "no_hit"


def test_father_and_son_are_not_a_hit() -> None:
    assert compare(person("Mohamed Ould Ahmed"), person("Ahmed Ould Mohamed")).outcome == "no_hit"


def test_mint_against_ould_is_penalised() -> None:
    result = compare(person("Salma Mint Ahmed"), person("Salem Ould Ahmed"))
    assert result.outcome == "no_hit"
    assert any("Mint" in line for line in result.explanation)


def test_conflicting_birth_years_turn_a_name_hit_into_no_hit() -> None:
    result = compare(person("Mohamed Ould Ahmed", birth_date="1960"), person("Mohamed Ould Ahmed", birth_date="1988"))
    assert result.outcome == "no_hit"
    assert "birth years differ (1960 vs 1988)" in result.explanation


def test_conflicting_gender_is_penalised_and_explained() -> None:
    result = compare(person("Aminata Traoré", gender="female"), person("Aminata Traoré", gender="male"))
    assert result.outcome != "hit" and any("gender differs" in line for line in result.explanation)


def test_shared_passport_is_a_hit_even_with_spelling_differences() -> None:
    passport = {"type": "passport", "number": "B0987654", "issuing_country": "MR"}
    result = compare(person("Mohamed O. Ahmed", documents=[passport]), person("Med Ould Ahmed", documents=[passport]))
    assert result.outcome == "hit" and result.explanation[0].startswith("document identical")


def test_typo_in_a_surname_still_matches() -> None:
    assert compare(person("Aboubacar Sidiki Ouédraogo"), person("Aboubacar Sidiki Ouedraogp")).outcome == "hit"


def test_surname_first_in_capitals_matches() -> None:
    assert compare(person("Moussa Traoré"), person("TRAORE Moussa")).outcome == "hit"


def test_scores_stay_in_unit_range() -> None:
    result = compare(person("Mohamed Ould Ahmed", nationality="MR", birth_date="1985-01-01"),
                     person("Mohamed Ould Ahmed", nationality="MR", birth_date="1985-01-01"))
    assert 0.0 <= result.score <= 1.0


def test_vehicle_plate_spellings_are_a_hit() -> None:
    result = compare(Vehicle(plate="AB-1234-NE", plate_country="NE"), Vehicle(plate="ab 1234", plate_country="NER"))
    assert result.outcome == "hit"


def test_same_plate_from_different_states_is_not_a_hit() -> None:
    assert compare(Vehicle(plate="AB1234", plate_country="NE"), Vehicle(plate="AB1234", plate_country="ML")).outcome != "hit"


def test_document_number_with_unknown_issuer_needs_review_not_hit() -> None:
    result = compare(Document(type="passport", number="A1234567", issuing_country="NE"), Document(type="passport", number="A1234567"))
    assert result.outcome == "hit" or result.outcome == "review"
    assert result.score < 1.0


def test_phone_formats_are_a_hit() -> None:
    assert compare(Phone(number="+227 90 12 34 56"), Phone(number="90123456", country="NE")).outcome == "hit"


def test_comparing_different_types_is_refused() -> None:
    with pytest.raises(TypeError):
        compare(Phone(number="+22790123456"), Vehicle(plate="AB1234"))


def test_within_one_query_a_name_met_again_is_scored_once_and_alike() -> None:
    from services.enrichment.domain.matching.name_scoring import RememberedComparisons, compare_names
    from services.enrichment.domain.normalise.names import parse_name

    calls: list[tuple[str, str]] = []

    def counted(left, right):
        calls.append((left.key, right.key))
        return compare_names(left, right)

    remembered = RememberedComparisons(counted)
    query = parse_name("Mohamed Ould Ahmed")
    stored = [parse_name("Mohamed Ould Ahmed"), parse_name("محمد ولد أحمد"), parse_name("Mohamed Ould Ahmed"),
              parse_name("Ahmed Ould Mohamed"), parse_name("محمد ولد أحمد")]
    assert [remembered(query, name) for name in stored] == [compare_names(query, name) for name in stored]
    assert len(calls) == 3
