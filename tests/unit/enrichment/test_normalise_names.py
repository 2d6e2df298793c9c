import pytest

from services.enrichment.domain.normalise import name_key, parse_name
from services.enrichment.domain.normalise.names import DAUGHTER_OF, SON_OF

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("latin", "arabic"),
    [
        ("Mohamed Ould Ahmed", "محمد ولد أحمد"),
        ("Abdelkader Ould Cheikh", "عبد القادر ولد الشيخ"),
        ("Fatimetou Mint Mohamed Vall", "فاطمة منت محمد فال"),
        ("Abdallahi Ould Mahmoud", "عبدالله ولد محمود"),
        ("Elmoctar Ould Ahmedou", "المختار ولد أحمد"),
    ],
)
def test_latin_and_arabic_forms_of_a_known_name_share_one_key(latin: str, arabic: str) -> None:
    assert name_key(latin) == name_key(arabic)


@pytest.mark.parametrize(
    "variants",
    [
        ["Mohamed", "Mohammed", "Muhammad", "Mahamat", "MOHAMED"],
        ["Oumarou", "Umaru", "Omar", "Oumar"],
        ["Ouédraogo", "Wedraogo", "OUEDRAOGO"],
        ["Abdelkader", "Abd el Kader", "Abdoulkader", "Abdulkadir", "عبد القادر"],
        ["Aboubacar", "Abou Bakr", "Boubacar", "أبو بكر"],
    ],
)
def test_spelling_variants_of_one_name_fold_to_one_key(variants: list[str]) -> None:
    assert len({name_key(v) for v in variants}) == 1


def test_kinship_particles_of_every_spelling_mark_son_of() -> None:
    for particle in ["Ould", "Wuld", "ولد", "Ag", "Ben", "Ibn", "بن"]:
        tokens = parse_name(f"Mohamed {particle} Ahmed").tokens
        assert tokens[-1].relation == SON_OF, particle


def test_mint_marks_daughter_of() -> None:
    assert parse_name("Aicha Mint Sidi").tokens[-1].relation == DAUGHTER_OF
    assert parse_name("عائشة منت سيدي").tokens[-1].relation == DAUGHTER_OF


def test_father_and_son_names_stay_distinct() -> None:
    assert name_key("Mohamed Ould Ahmed") != name_key("Ahmed Ould Mohamed")


def test_titles_are_ignored() -> None:
    assert name_key("El Hadj Oumarou Issoufou") == name_key("Oumarou Issoufou")
    assert name_key("Cheikh Mohamed Ould Ahmed") == name_key("Mohamed Ould Ahmed")
    assert name_key("الحاج عمر ولد أحمد") == name_key("Omar Ould Ahmed")


def test_cheikh_alone_with_a_patronym_is_a_given_name() -> None:
    assert name_key("Cheikh Ould Mohamed") == "cheikh ould mohamed"


def test_surname_first_in_capitals_is_reordered() -> None:
    assert name_key("ISSOUFOU Oumarou") == name_key("Oumarou Issoufou")
    assert name_key("OULD AHMED Mohamed") == name_key("Mohamed Ould Ahmed")
    assert name_key("Traoré, Moussa") == name_key("Moussa Traoré")


def test_article_is_dropped_in_both_scripts() -> None:
    assert name_key("El Moctar") == name_key("Moctar") == name_key("المختار")


def test_unknown_tokens_keep_a_cross_script_skeleton() -> None:
    latin = parse_name("Ouagadougouma").tokens[0]
    arabic = parse_name("واغادوغوما").tokens[0]
    assert latin.skeleton == arabic.skeleton


def test_nfkc_folds_compatibility_characters() -> None:
    assert name_key("Ｍｏｈａｍｅｄ") == name_key("Mohamed")
