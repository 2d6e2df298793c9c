"""Similarity of two name tokens, with the reason."""

from functools import lru_cache

from rapidfuzz.distance import OSA

from services.enrichment.domain.normalise.names import NameToken

COMMON_NAME_KEYS = frozenset(
    "mohamed ahmed amadou mamadou moussa oumar ousmane ibrahim abdallah aboubacar ali issa hassan hussein mahmoud "
    "cheikh sidi youssouf souleymane idrissa adama abdou lamine mokhtar hamid salif seydou yacouba bakary "
    "fatimata aicha aminata mariam khadija hawa zeinab halima "
    "traore diallo ouedraogo sawadogo coulibaly toure cisse maiga keita diarra kone sangare ba bah sall camara".split()
)
COMMON_WEIGHT = 0.7
DISTINCT_FAMILY_FACTOR = 0.5


def token_weight(token: NameToken) -> float:
    return COMMON_WEIGHT if token.key in COMMON_NAME_KEYS else 1.0


SPELLING_STRETCH = 1.5
MIN_SKELETON_EVIDENCE = 2


def _similarity(a: str, b: str) -> float:
    """Edit similarity (transpositions count once), stretched so one edit in a short word weighs more."""
    return max(0.0, 1.0 - SPELLING_STRETCH * (1.0 - OSA.normalized_similarity(a, b)))


def _skeleton_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    without_article = [s[1:] if s.startswith("l") else s for s in (a, b)]
    if without_article[0] == without_article[1] and len(without_article[0]) >= MIN_SKELETON_EVIDENCE:
        return 1.0
    return _similarity(a, b)


@lru_cache(maxsize=500_000)
def token_similarity(a: NameToken, b: NameToken, cross_script: bool) -> tuple[float, str]:
    """Similarity in [0, 1] and a short reason: same family, same spelling, same skeleton, close spelling."""
    if a.key == b.key:
        if cross_script:
            return 1.0, "same name across scripts"
        return 1.0, ("same spelling" if a.latin == b.latin else "same variant family")
    skeleton_equal = len(a.skeleton) >= MIN_SKELETON_EVIDENCE and a.skeleton == b.skeleton
    if a.family and b.family:
        fuzzy = max(_similarity(a.key, b.key), _similarity(a.latin, b.latin))
        return DISTINCT_FAMILY_FACTOR * fuzzy, "different names"
    if cross_script:
        skeleton_score = 0.9 * _skeleton_similarity(a.skeleton, b.skeleton) if len(a.skeleton) >= MIN_SKELETON_EVIDENCE else 0.0
        spelling = 0.9 * _similarity(a.key, b.key)
        return (skeleton_score, "same consonant skeleton") if skeleton_score >= spelling else (spelling, "close transliteration")
    spelling = max(_similarity(a.key, b.key), _similarity(a.latin, b.latin))
    if skeleton_equal and spelling < 0.9:
        return max(spelling, 0.85), "same consonant skeleton"
    return spelling, "close spelling"
