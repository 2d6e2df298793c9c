"""Explainable person comparison: best name pair, then birth date, gender, nationality and documents."""

from dataclasses import dataclass
from typing import Any

from services.enrichment.domain.matching.name_scoring import NameComparer, compare_names
from services.enrichment.domain.normalise.names import DAUGHTER_OF, SON_OF, ParsedName, parse_name

ALIAS_FACTOR = 0.9
SAME_FULL_DATE_BONUS = 0.05
SAME_YEAR_BONUS = 0.02
ONE_YEAR_APART_PENALTY = 0.05
SAME_YEAR_OTHER_DAY_PENALTY = 0.10
YEARS_APART_PENALTY = 0.25
DECADES_APART_PENALTY = 0.45
GENDER_CONFLICT_PENALTY = 0.30
NATIONALITY_CONFLICT_PENALTY = 0.05
NATIONALITY_AGREEMENT_BONUS = 0.01
SHARED_DOCUMENT_SCORE = 0.98
SHARED_DOCUMENT_NAMES_DIFFER_SCORE = 0.75
NAMES_COMPATIBLE = 0.5

BirthDate = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class PersonFeatures:
    names: tuple[ParsedName, ...]
    aliases: tuple[ParsedName, ...] = ()
    birth_date: BirthDate | None = None
    gender: str = "unknown"
    nationality: str | None = None
    documents: frozenset[str] = frozenset()

    @classmethod
    def from_canonical(cls, canonical: dict[str, Any]) -> "PersonFeatures":
        names = tuple(parse_name(entry["text"]) for entry in canonical.get("names", []))
        aliases = tuple(parse_name(entry["text"]) for entry in canonical.get("aliases", []))
        documents = frozenset(
            f"doc:{d['type']}:{d.get('issuing_country') or 'XX'}:{d['number']}" for d in canonical.get("documents", []) if d.get("number")
        )
        return cls(names, aliases, parse_birth_date(canonical.get("birth_date")), infer_gender(canonical.get("gender"), names),
                   canonical.get("nationality"), documents)


def parse_birth_date(value: str | None) -> BirthDate | None:
    if not value:
        return None
    parts = [int(p) for p in value.split("-")] + [0, 0]
    return parts[0], parts[1], parts[2]


def infer_gender(gender: str | None, names: tuple[ParsedName, ...]) -> str:
    if gender in ("male", "female"):
        return gender
    relations = {t.relation for name in names for t in name.tokens}
    if SON_OF in relations and DAUGHTER_OF not in relations:
        return "male"
    if DAUGHTER_OF in relations and SON_OF not in relations:
        return "female"
    return "unknown"


@dataclass(frozen=True, slots=True)
class Comparison:
    score: float
    outcome: str
    explanation: list[str]


def best_name_score(left: PersonFeatures, right: PersonFeatures, *,
                    compare_names: NameComparer = compare_names) -> tuple[float, tuple[str, ...]]:
    best: tuple[float, tuple[str, ...]] = (0.0, ("names differ",))
    for factor, left_names, right_names in (
        (1.0, left.names, right.names),
        (ALIAS_FACTOR, left.aliases, right.names + right.aliases),
        (ALIAS_FACTOR, left.names, right.aliases),
    ):
        for a in left_names:
            for b in right_names:
                result = compare_names(a, b)
                score = result.score * factor
                if score > best[0]:
                    prefix = ("alias",) if factor < 1.0 else ()
                    best = (score, prefix + result.explanation)
    return best


def score_persons(left: PersonFeatures, right: PersonFeatures, name_score: float, name_explanation: tuple[str, ...]) -> tuple[float, list[str]]:
    explanation = [f"names {name_score:.2f}", *name_explanation]
    score = name_score
    shared_documents = left.documents & right.documents
    if shared_documents:
        document = sorted(shared_documents)[0].split(":", 1)[1].replace(":", " ")
        if name_score >= NAMES_COMPATIBLE:
            score = max(score, SHARED_DOCUMENT_SCORE)
            explanation.insert(0, f"document identical ({document})")
        else:
            score = max(score, SHARED_DOCUMENT_NAMES_DIFFER_SCORE)
            explanation.insert(0, f"document identical ({document}) but names differ")
    score += _birth_date_adjustment(left.birth_date, right.birth_date, explanation)
    if "unknown" not in (left.gender, right.gender) and left.gender != right.gender:
        score -= GENDER_CONFLICT_PENALTY
        explanation.append(f"gender differs ({left.gender} vs {right.gender})")
    if left.nationality and right.nationality:
        if left.nationality != right.nationality:
            score -= NATIONALITY_CONFLICT_PENALTY
            explanation.append(f"nationality differs ({left.nationality} vs {right.nationality})")
        else:
            score += NATIONALITY_AGREEMENT_BONUS
    return max(0.0, min(1.0, score)), explanation


def _birth_date_adjustment(left: BirthDate | None, right: BirthDate | None, explanation: list[str]) -> float:
    if left is None or right is None:
        return 0.0
    years_apart = abs(left[0] - right[0])
    if years_apart >= 2:
        explanation.append(f"birth years differ ({left[0]} vs {right[0]})")
        return -(DECADES_APART_PENALTY if years_apart >= 5 else YEARS_APART_PENALTY)
    if years_apart == 1:
        explanation.append(f"birth years one apart ({left[0]} vs {right[0]})")
        return -ONE_YEAR_APART_PENALTY
    for a, b, label in ((left[1], right[1], "month"), (left[2], right[2], "day")):
        if a and b and a != b:
            explanation.append(f"birth {label} differs")
            return -SAME_YEAR_OTHER_DAY_PENALTY
    if all(left) and left == right:
        explanation.append("birth date identical")
        return SAME_FULL_DATE_BONUS
    explanation.append("birth year identical")
    return SAME_YEAR_BONUS
