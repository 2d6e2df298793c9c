"""Similarity of two name tokens, with the reason."""

from functools import lru_cache

from rapidfuzz.distance import OSA, Indel

from services.enrichment.domain.normalise.crossscript import cross_script_similarity
from services.enrichment.domain.normalise.names import NameToken
from services.enrichment.domain.normalise.phonetics import coarse_skeleton

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
# Cross-script letter alignment (normalise.crossscript) scaled so one uncertain letter in a short name
# stays under the hit threshold; chosen on the development split of the public pairs (evaluation.py).
CROSS_SCRIPT_SCALE = 0.93
UNALIGNED_SKELETON_CAP = 0.6
ALIGNMENT_GATE = 0.45
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


def _may_align(a: NameToken, b: NameToken) -> bool:
    """Cheap gate before the letter alignment: coarse skeletons at least half alike (or one empty).
    On the development split it keeps all but 13 of 17,342 word pairs the alignment makes hits."""
    if not a.skeleton or not b.skeleton:
        return True
    return Indel.normalized_similarity(coarse_skeleton(a.skeleton), coarse_skeleton(b.skeleton)) >= ALIGNMENT_GATE


@lru_cache(maxsize=65_536)
def token_similarity(a: NameToken, b: NameToken, cross_script: bool, both_arabic: bool = False) -> tuple[float, str]:
    """Similarity in [0, 1] and a short reason: same family, same spelling, same skeleton, close spelling.

    Across scripts ``a`` is the Arabic-script token and ``b`` the Latin-script one. Between two
    Arabic-script tokens a shared skeleton is no evidence: the script writes long vowels, so
    دوباي and دابا are two names, not two spellings of one."""
    if a.key == b.key:
        if cross_script:
            return 1.0, "same name across scripts"
        return 1.0, ("same spelling" if a.latin == b.latin else "same variant family")
    skeleton_equal = len(a.skeleton) >= MIN_SKELETON_EVIDENCE and a.skeleton == b.skeleton
    if a.family and b.family:
        fuzzy = max(_similarity(a.key, b.key), _similarity(a.latin, b.latin))
        return DISTINCT_FAMILY_FACTOR * fuzzy, "different names"
    if cross_script:
        aligned = CROSS_SCRIPT_SCALE * cross_script_similarity(a.latin, b.latin) if _may_align(a, b) else 0.0
        skeleton_score = 0.9 * _skeleton_similarity(a.skeleton, b.skeleton) if len(a.skeleton) >= MIN_SKELETON_EVIDENCE else 0.0
        # A shared consonant skeleton ignores vowels and letter order within a class (Kouli ~ Galloway):
        # it counts in full only as far as the letter-by-letter alignment of the two spellings agrees.
        skeleton_score = min(skeleton_score, max(UNALIGNED_SKELETON_CAP, aligned))
        spelling = max(0.9 * _similarity(a.key, b.key), aligned)
        return (skeleton_score, "same consonant skeleton") if skeleton_score >= spelling else (spelling, "close transliteration")
    spelling = max(_similarity(a.key, b.key), _similarity(a.latin, b.latin))
    if skeleton_equal and spelling < 0.9 and not both_arabic:
        return max(spelling, 0.85), "same consonant skeleton"
    return spelling, "close spelling"
