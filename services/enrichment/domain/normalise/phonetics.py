"""Spelling-tolerant keys for Latin-script name tokens: a phonetic fold and a consonant skeleton."""

from functools import lru_cache
import re

_FOLD_RULES = [
    (re.compile(r"(.)\1+"), r"\1"),
    (re.compile(r"tch"), "ch"),
    (re.compile(r"dj"), "j"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck|q"), "k"),
    (re.compile(r"c(?=[aou]|[^aeiouyh]|$)"), "k"),
    (re.compile(r"ou"), "u"),
    (re.compile(r"w"), "u"),
    (re.compile(r"y"), "i"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"(?<=[^aeiou])e$"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
]

_SKELETON_DIGRAPHS = [
    (re.compile(r"tch|tsh|sch|sh|ch"), "x"),
    (re.compile(r"kh|gh|ck|qu|q"), "k"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"th"), "t"),
    (re.compile(r"dh"), "d"),
    (re.compile(r"dj|dz"), "j"),
    (re.compile(r"c(?=[eiy])"), "s"),
    (re.compile(r"c"), "k"),
    (re.compile(r"x(?=[aeiou])"), "x"),
]
_SKELETON_CLASSES = str.maketrans({"p": "b", "d": "t", "v": "f", "g": "k", "z": "s"})
_NOT_CONSONANT = re.compile(r"[^bcfjklmnrstx]")
_REPEATS = re.compile(r"(.)\1+")


@lru_cache(maxsize=16_384)
def phonetic_fold(token: str) -> str:
    """Collapses spellings of one pronunciation: doubled letters, ou/u/w, y/i, c/k/q, dj/j."""
    for pattern, replacement in _FOLD_RULES:
        token = pattern.sub(replacement, token)
    return token


@lru_cache(maxsize=16_384)
def skeleton(token: str) -> str:
    """Consonant classes of a Latin token; equal for most Arabic/Latin renderings of one name."""
    token = _REPEATS.sub(r"\1", token)
    for pattern, replacement in _SKELETON_DIGRAPHS:
        token = pattern.sub(replacement, token)
    token = _REPEATS.sub(r"\1", token.translate(_SKELETON_CLASSES))
    return _NOT_CONSONANT.sub("", token)


# Coarser classes for blocking: ج is written j, dj, g or gh in Latin script and ش sh, ch, sch or s,
# so j/k and sh/s share a block; the scorer still tells them apart.
_COARSE_CLASSES = str.maketrans({"j": "k", "x": "s"})


def coarse_skeleton(skeleton_key: str) -> str:
    return skeleton_key.translate(_COARSE_CLASSES)
