"""Similarity of two full names: token alignment that respects kinship particles."""

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from services.enrichment.domain.matching.tokens import token_similarity, token_weight
from services.enrichment.domain.normalise.names import DAUGHTER_OF, NO_RELATION, SON_OF, NameToken, ParsedName

GIVEN, LINEAGE, UNMARKED = 0, 1, 2
_CROSSED_ROLES = frozenset({(GIVEN, LINEAGE), (LINEAGE, GIVEN)})
CROSSED_ROLE_FACTOR = 0.2
WORD_ORDER_FACTOR = 0.97
SINGLE_TOKEN_FACTOR = 0.75
RELATION_CONFLICT_FACTOR = 0.6
MISSING_GIVEN_NAME_FACTOR = 0.85
OPTIONAL_LEADING_KEYS = frozenset({"sidi"})
SHORTER_NAME_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class NameComparison:
    score: float
    explanation: tuple[str, ...]
    relation_conflict: bool = False
    matched_tokens: int = 0


NameComparer = Callable[[ParsedName, ParsedName], NameComparison]


def _roles(name: ParsedName) -> list[int]:
    first_lineage = next((i for i, t in enumerate(name.tokens) if t.relation != NO_RELATION), None)
    if first_lineage is None:
        return [UNMARKED] * len(name.tokens)
    return [GIVEN if i < first_lineage else LINEAGE for i in range(len(name.tokens))]


def compare_names(left: ParsedName, right: ParsedName) -> NameComparison:
    if not left.tokens or not right.tokens:
        return NameComparison(0.0, ("empty name",))
    cross_script = left.arabic != right.arabic
    both_arabic = left.arabic and right.arabic
    arabic_on_the_right = cross_script and right.arabic
    left_roles, right_roles = _roles(left), _roles(right)
    right_bare = [(j, _bare(b), right_roles[j]) for j, b in enumerate(right.tokens)]
    pairs: list[tuple[float, int, int, str]] = []
    for i, a in enumerate(left.tokens):
        bare_a, role_a = _bare(a), left_roles[i]
        for j, bare_b, role_b in right_bare:
            if arabic_on_the_right:
                similarity, reason = token_similarity(bare_b, bare_a, cross_script)
            else:
                similarity, reason = token_similarity(bare_a, bare_b, cross_script, both_arabic)
            if (role_a, role_b) in _CROSSED_ROLES:
                similarity, reason = similarity * CROSSED_ROLE_FACTOR, "given name against father's name"
            pairs.append((similarity, i, j, reason))
    pairs.sort(key=itemgetter(0), reverse=True)  # stable: equal scores keep their order
    used_left: set[int] = set()
    used_right: set[int] = set()
    matched_weight = 0.0
    explanation: list[str] = []
    alignment: list[tuple[int, int]] = []
    relation_conflict = False
    matched = 0
    for similarity, i, j, reason in pairs:
        if i in used_left or j in used_right or similarity <= 0.0:
            continue
        used_left.add(i)
        used_right.add(j)
        a, b = left.tokens[i], right.tokens[j]
        matched_weight += similarity * (token_weight(a) + token_weight(b)) / 2
        alignment.append((i, j))
        if {a.relation, b.relation} == {SON_OF, DAUGHTER_OF}:
            relation_conflict = True
        if similarity >= 0.5:
            matched += 1
            explanation.append(f"{a.latin}~{b.latin}: {reason} ({similarity:.2f})")
    left_weight = sum(token_weight(t) for t in left.tokens)
    right_weight = sum(token_weight(t) for t in right.tokens)
    score = SHORTER_NAME_SHARE * matched_weight / min(left_weight, right_weight) + (
        1 - SHORTER_NAME_SHARE
    ) * matched_weight / max(left_weight, right_weight)
    if min(len(left.tokens), len(right.tokens)) == 1:
        score *= SINGLE_TOKEN_FACTOR
        explanation.append("single-word name")
    if _order_differs(alignment):
        score *= WORD_ORDER_FACTOR
        explanation.append("word order differs")
    if _given_name_missing(left, right, used_left, used_right):
        score *= MISSING_GIVEN_NAME_FACTOR
        explanation.append("first given name unmatched")
    if relation_conflict:
        score *= RELATION_CONFLICT_FACTOR
        explanation.append("son of (Ould) against daughter of (Mint)")
    return NameComparison(min(score, 1.0), tuple(explanation), relation_conflict, matched)


class RememberedComparisons:
    """compare_names for one query: a stored name met again (the same person reported twice, a common name) is
    scored once. Both names are values (frozen tokens), so equal names share one result."""

    __slots__ = ("_compare", "_scored")

    def __init__(self, compare: NameComparer = compare_names) -> None:
        self._compare = compare
        self._scored: dict[tuple[ParsedName, ParsedName], NameComparison] = {}

    def __call__(self, left: ParsedName, right: ParsedName) -> NameComparison:
        scored = self._scored.get((left, right))
        if scored is None:
            scored = self._scored[(left, right)] = self._compare(left, right)
        return scored


def _bare(token: NameToken) -> NameToken:
    return token if token.relation == NO_RELATION else type(token)(token.key, token.skeleton, token.latin, NO_RELATION, token.family)


def _order_differs(alignment: list[tuple[int, int]]) -> bool:
    ordered = sorted(alignment)
    return any(b[1] < a[1] for a, b in zip(ordered, ordered[1:]))


def _given_name_missing(left: ParsedName, right: ParsedName, used_left: set[int], used_right: set[int]) -> bool:
    longer, used = (left, used_left) if len(left.tokens) > len(right.tokens) else (right, used_right)
    if len(left.tokens) == len(right.tokens) or 0 in used:
        return False
    return longer.tokens[0].key not in OPTIONAL_LEADING_KEYS
