import tracemalloc
import uuid

import pytest

from shared.contracts.entities import Entities, Person, Phone, Vehicle
from services.enrichment.domain.matching import CandidateIndex, RecordRef, compare
from services.enrichment.domain.normalise import normalise_entities
from services.enrichment.domain.normalise.entities import vehicle_canonical

pytestmark = pytest.mark.unit


def ref(platform: str, n: int, position: int = 0) -> RecordRef:
    return RecordRef(platform, str(uuid.UUID(int=n)), position)


def person(*names: str, **fields) -> Person:
    return Person.model_validate({"names": list(names), **fields})


@pytest.fixture
def index() -> CandidateIndex:
    built = CandidateIndex()
    built.add(ref("MR", 1), person("Mohamed Ould Ahmed", "محمد ولد أحمد", birth_date="1985", nationality="MR"))
    built.add(ref("ML", 2), person("Mohamed Ould Mahmoud", birth_date="1985"))
    built.add(ref("NE", 3), person("Ahmed Ould Mohamed", birth_date="1950"))
    built.add(ref("BF", 4), person("Aboubacar Sidiki Ouédraogo", birth_date="1979-04-02"))
    built.add(ref("TD", 5), person("Mahamat Idriss Déby"))
    built.add(ref("NE", 6), Vehicle(plate="AB-1234-NE", plate_country="NE"))
    built.add(ref("NE", 7), Phone(number="90 12 34 56"), reporting_country="NE")
    return built


def test_cross_script_query_ranks_the_same_person_first_as_a_hit(index: CandidateIndex) -> None:
    results = index.query(person("محمد ولد احمد", birth_date="1985"))
    assert results[0].ref == ref("MR", 1) and results[0].outcome == "hit"
    assert all(r.ref != ref("NE", 3) for r in results)


def test_spelling_variants_and_word_order_find_the_record(index: CandidateIndex) -> None:
    assert index.query(person("OUEDRAOGO Aboubakar Sidiki"))[0].ref == ref("BF", 4)
    assert index.query(person("Mohamed Idriss Deby"))[0].ref == ref("TD", 5)


def test_typo_in_a_two_word_name_is_found_through_skeleton_neighbours(index: CandidateIndex) -> None:
    index.add(ref("ML", 8), person("Oumar Kountché"))
    assert index.query(person("Oumar Kountxhe"))[0].ref == ref("ML", 8)


def test_unrelated_name_returns_nothing(index: CandidateIndex) -> None:
    assert index.query(person("Zakaria Sanogo")) == []


def test_other_entity_types_are_found_by_identifiers(index: CandidateIndex) -> None:
    assert index.query(Vehicle(plate="ab 1234", plate_country="NE"))[0].ref == ref("NE", 6)
    assert index.query(Phone(number="+22790123456"))[0].outcome == "hit"


def test_index_rebuilt_from_stored_canonical_rows_answers_like_the_original(index: CandidateIndex) -> None:
    body = Entities.model_validate({"persons": [{"names": ["Moussa Traoré"], "birth_date": "1990"}],
                                    "vehicles": [{"plate": "TD 777 AA", "plate_country": "TD"}]})
    rebuilt = CandidateIndex()
    for normalised in normalise_entities(body, reporting_country="TD"):
        rebuilt.add_canonical(ref("TD", 9, normalised.position), normalised.entity_type, normalised.canonical)
    assert rebuilt.query(person("TRAORE Moussa", birth_date="1990"))[0].outcome == "hit"
    assert rebuilt.query(Vehicle(plate="TD-777-AA", plate_country="TD"))[0].ref == ref("TD", 9)


def test_non_uuid_message_ids_round_trip() -> None:
    built = CandidateIndex()
    built.add(RecordRef("HUB", "msg-42", 3), person("Issa Maïga"))
    assert built.query(person("Issa Maiga"))[0].ref == RecordRef("HUB", "msg-42", 3)


def test_very_common_name_without_other_support_is_capped_at_review() -> None:
    built = CandidateIndex()
    for n in range(60):
        built.add(ref("MR", n), person("Mohamed Ould Ahmed", birth_date=str(1950 + n % 40)))
    results = built.query(person("Mohamed Ould Ahmed"))
    assert results and all(r.outcome == "review" for r in results)
    assert any("common name" in line for line in results[0].explanation)
    supported = built.query(person("Mohamed Ould Ahmed", birth_date="1955"))
    assert supported[0].outcome == "hit"


def test_candidates_explain_their_score(index: CandidateIndex) -> None:
    top = index.query(person("Mohammed Ould Ahmad", birth_date="1985"))[0]
    assert top.explanation and top.explanation[0].startswith("names")


def vehicles_with_their_canonicals(count: int) -> list[tuple[Vehicle, dict]]:
    found = []
    for i in range(count):
        vehicle = Vehicle(plate=f"{i % 50:02d}-AB-NE", plate_country="NE" if i % 3 else None, vin=f"VF1AB{i:012d}",
                          make=f"make {i % 4}", model="Hilux", colour="blanc")
        found.append((vehicle, vehicle_canonical(vehicle, "NE")[0]))
    return found


def test_a_stored_vehicle_scores_as_a_direct_comparison_of_the_whole_records() -> None:
    vehicles = vehicles_with_their_canonicals(120)
    built = CandidateIndex()
    for n, (vehicle, _) in enumerate(vehicles):
        built.add(ref("NE", n), vehicle, reporting_country="NE")
    query = Vehicle(plate="07 AB NE", vin="VF1AB000000000007")
    found = {candidate.ref: candidate for candidate in built.query(query, limit=200)}
    assert set(found) == {ref("NE", 7), ref("NE", 57), ref("NE", 107)}
    for n, (vehicle, _) in enumerate(vehicles):
        if ref("NE", n) in found:
            direct = compare(query, vehicle, reporting_country="NE")
            assert (found[ref("NE", n)].score, found[ref("NE", n)].explanation) == (round(direct.score, 4), direct.explanation)
    assert found[ref("NE", 7)].score == 1.0


def test_a_stored_vehicle_costs_a_few_hundred_bytes_not_a_dict_of_its_whole_record() -> None:
    vehicles = vehicles_with_their_canonicals(20_000)
    tracemalloc.start()
    try:
        built = CandidateIndex()
        for n, (_, canonical) in enumerate(vehicles):
            built.add_canonical(ref("NE", n), "vehicle", dict(canonical))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(built) == 20_000
    assert held / 20_000 < 250


def test_records_sharing_a_name_are_each_scored_as_if_compared_alone() -> None:
    index = CandidateIndex()
    stored = [person("Mohamed Ould Ahmed", birth_date=year, nationality=country)
              for year, country in (("1985", "MR"), ("1986", "ML"), ("1960", "MR"), ("1985-03-01", "NE"))]
    stored.append(person("محمد ولد أحمد", birth_date="1985"))
    for n, entity in enumerate(stored):
        index.add(ref("MR", n), entity)
    query = person("Mohamed Ould Ahmed", birth_date="1985", nationality="MR")
    found = {candidate.ref: candidate.score for candidate in index.query(query, include_no_hit=True)}
    alone = {ref("MR", n): round(compare(query, entity).score, 4) for n, entity in enumerate(stored)}
    assert found == alone
    assert len(set(alone.values())) >= 3
