"""Cross-script spelling distance: how far a Latin spelling is from the Latin reading of an Arabic word.

Arabic script writes consonants and long vowels; Latin spellings of one name vary with the
language that wrote it down (French ou / English u / German w; Slavic j for y; sh, ch, sch, sz for
ش; g, gh, dj and j for ج and غ; q, k, c for ق and ك). A weighted edit distance aligns the Arabic
reading with the Latin spelling, letter class against letter class:

- short vowels are not written in Arabic, so a Latin vowel with no Arabic letter costs little;
- a long vowel letter (ا و ي) may be missing from the Latin spelling, at a small cost;
- h, and Arabic ه / ة at the end, are often silent;
- known alternative renderings of one Arabic letter cost 0 to 0.4 instead of a full edit.

The result is a similarity in [0, 1]: 1 - cost / length, where length is that of the longer side.
Below ``MIN_SIMILARITY`` it is reported as 0: the alignment stops as soon as it cannot reach it,
which keeps unrelated words cheap and leaves their (low) score to the plain spelling distance.
"""

from functools import lru_cache
import re

from services.enrichment.domain.normalise.text import fold

# ---- symbols --------------------------------------------------------------------------------

_ARABIC_READING = re.compile(r"tsh|ts|tz|dj|th|dh|kh|sh|gh|ou|.")
_ARABIC_SYMBOL = {"tsh": "ch", "tz": "ts", "dj": "j"}
_LATIN_GRAPHEMES = re.compile(
    r"tzsch|tsch|sch|tch|tsh|dzh|eau|sh|ch|sz|cz|zh|kh|gh|th|dh|ph|ck|qu|dj|tz|ts|gn|ou|oo|ee|."
)
_REPEATS = re.compile(r"(.)\1+")
_NOT_LETTER = re.compile(r"[^a-z]")
_VOWEL_LETTERS = frozenset("aeiou")
_LATIN_SYMBOL = {
    "tsch": "ch", "tzsch": "ch", "sch": "sh", "tch": "ch", "tsh": "ch", "sz": "sh", "cz": "ch", "zh": "zh",
    "ph": "f", "ck": "k", "qu": "k", "dj": "j", "dzh": "j", "oo": "ou", "ee": "i", "x": "ks", "q": "k",
    "y": "i", "eau": "o", "tz": "ts", "gn": "ny",
}
_SOFT = {"c": "s'", "g": "g'"}
LATIN_VOWELS = frozenset("a e i o u ou".split())

# Arabic reading symbol -> {Latin symbol: substitution cost}; anything else costs a full edit.
_SAME = 0.0
_NEAR = 0.2
_FAR = 0.4
_RENDERINGS: dict[str, dict[str, float]] = {
    "a": {"a": _SAME, "e": _NEAR, "o": _FAR, "i": _FAR, "u": _FAR, "ou": _FAR},
    "i": {"i": _SAME, "e": _SAME, "y": _SAME, "j": _NEAR, "a": _FAR},
    "ou": {"ou": _SAME, "o": _SAME, "u": _SAME, "w": _SAME, "v": _NEAR, "f": _FAR},
    "b": {"b": _SAME, "p": _SAME, "v": _FAR},
    "p": {"p": _SAME, "b": _SAME},
    "t": {"t": _SAME, "th": _NEAR, "d": _FAR},
    "ch": {"ch": _SAME, "sh": _NEAR, "c": _NEAR, "s'": _NEAR, "k": _FAR, "ts": _FAR, "j": _FAR},
    "ts": {"ts": _SAME, "z": _NEAR, "c": _NEAR, "s": _FAR, "ch": _FAR},
    "th": {"th": _SAME, "t": _NEAR, "z": _NEAR, "s'": _NEAR, "s": _FAR},
    "j": {"j": _SAME, "g'": _SAME, "g": _SAME, "zh": _NEAR, "ch": _FAR, "y": _FAR, "i": _FAR, "sh": _FAR},
    "h": {"h": _SAME, "kh": _NEAR, "ch": _NEAR},
    "kh": {"kh": _SAME, "h": _NEAR, "ch": _NEAR, "k": _FAR, "j": _FAR, "ks": _FAR},
    "d": {"d": _SAME, "dh": _NEAR, "t": _FAR, "th": _FAR},
    "dh": {"dh": _SAME, "d": _NEAR, "z": _NEAR, "th": _NEAR},
    "r": {"r": _SAME},
    "z": {"z": _SAME, "s": _NEAR, "s'": _NEAR, "zh": _NEAR, "ts": _NEAR, "dh": _FAR, "j": _FAR},
    "s": {"s": _SAME, "s'": _SAME, "z": _NEAR, "sh": _FAR, "ch": _FAR, "th": _FAR, "ts": _FAR},
    "sh": {"sh": _SAME, "ch": _SAME, "s": _NEAR, "zh": _NEAR, "s'": _FAR, "j": _FAR, "g'": _FAR},
    "gh": {"gh": _SAME, "g": _SAME, "g'": _NEAR, "r": _FAR, "h": _FAR, "k": _FAR},
    "f": {"f": _SAME, "ph": _SAME, "v": _SAME, "w": _NEAR},
    "v": {"v": _SAME, "f": _SAME, "w": _SAME},
    "q": {"k": _SAME, "c": _SAME, "g": _NEAR, "kh": _FAR},
    "k": {"k": _SAME, "c": _SAME, "ch": _NEAR, "g": _FAR, "kh": _FAR},
    "g": {"g": _SAME, "k": _NEAR, "j": _NEAR, "g'": _NEAR},
    "l": {"l": _SAME},
    "m": {"m": _SAME},
    "n": {"n": _SAME},
}
# ة (read h) at the end is a, at, ah or et in Latin script: the t may be written.
_FINAL_H = {**_RENDERINGS["h"], "t": _NEAR}
_ARABIC_MISSING = {"a": 0.3, "i": 0.3, "ou": 0.4, "h": 0.3}
_ARABIC_MISSING_AT_START = {"a": 0.05, "i": 0.05}
_ARABIC_MISSING_AT_END = {"h": 0.1}
_LATIN_EXTRA = {"a": 0.1, "e": 0.1, "i": 0.15, "o": 0.15, "u": 0.15, "ou": 0.2, "h": 0.2, "w": 0.3, "y": 0.3}
# French and English spellings end in letters that are not pronounced (Charcot, Malraux, Descartes).
_LATIN_EXTRA_AT_END = {"t": 0.5, "d": 0.5, "s": 0.5, "z": 0.5}
_FULL = 1.0
# Unwritten short vowels cost little to add, so they also count less towards the length.
_LATIN_LENGTH = {"a": 0.5, "e": 0.5, "i": 0.5, "o": 0.5, "u": 0.5}
MIN_SIMILARITY = 0.75
_SELF: dict[str, float] = {}


def arabic_symbols(reading: str) -> tuple[str, ...]:
    """Symbols of the Latin reading of an Arabic word (as produced by ``arabic.transliterate``)."""
    return tuple(_ARABIC_SYMBOL.get(s, s) for s in _ARABIC_READING.findall(reading))


@lru_cache(maxsize=16_384)
def latin_symbols(word: str) -> tuple[str, ...]:
    """Letter-class symbols of a Latin spelling: digraphs joined, doubled letters once, c/g soft before e, i, y."""
    word = _REPEATS.sub(r"\1", _NOT_LETTER.sub("", fold(word)))
    symbols: list[str] = []
    position = 0
    while position < len(word):
        grapheme = _LATIN_GRAPHEMES.match(word, position).group()
        position += len(grapheme)
        following = word[position : position + 1]
        if grapheme in _SOFT and following in ("e", "i", "y"):
            symbol = _SOFT[grapheme]
        elif grapheme == "y" and following in _VOWEL_LETTERS:
            symbol = "y"
        else:
            symbol = _LATIN_SYMBOL.get(grapheme, grapheme)
        if grapheme == "x" and position == len(word) and symbols and symbols[-1] in LATIN_VOWELS:
            symbols.append("s")
        elif symbol == "ny":
            symbols.extend(("n", "i"))
        elif symbol == "ks":
            symbols.extend(("k", "s"))
        elif not symbols or symbols[-1] != symbol:
            symbols.append(symbol)
    return tuple(symbols)


_SUN_LETTERS = frozenset("t th d dh r z s sh l n".split())


@lru_cache(maxsize=8_192)
def arabic_readings(reading: str) -> tuple[tuple[str, ...], ...]:
    """The reading's symbols, and when it starts with the article: without it, and assimilated (ar-R...)."""
    symbols = arabic_symbols(reading)
    if len(symbols) > 3 and symbols[0] == "a" and symbols[1] == "l":
        rest = symbols[2:]
        if rest[0] in _SUN_LETTERS:
            return symbols, rest, ("a", *rest)
        return symbols, rest
    return (symbols,)


@lru_cache(maxsize=32_768)  # token_similarity, its only caller in matching, has its own cache
def cross_script_similarity(arabic_reading: str, latin_word: str) -> float:
    """Similarity of the Latin reading of an Arabic word and a Latin spelling, in [0, 1]."""
    target, extra, target_length = _latin_costs(latin_word)
    if not target:
        return 0.0
    return max(_aligned(source, target, extra, target_length) for source in arabic_readings(arabic_reading))


@lru_cache(maxsize=16_384)
def _latin_costs(latin_word: str) -> tuple[tuple[str, ...], tuple[float, ...], float]:
    """Symbols, the cost of each when it has no Arabic letter, and the weighted length."""
    target = latin_symbols(latin_word)
    if not target:
        return target, (), 0.0
    extra = [_LATIN_EXTRA.get(symbol, _FULL) for symbol in target]
    extra[-1] = min(extra[-1], _LATIN_EXTRA_AT_END.get(target[-1], _FULL))
    return target, tuple(extra), sum(_LATIN_LENGTH.get(symbol, 1.0) for symbol in target)


def _aligned(source: tuple[str, ...], target: tuple[str, ...], extra: tuple[float, ...], target_length: float) -> float:
    if not source:
        return 0.0
    last = len(source) - 1
    length = max(len(source), target_length)
    budget = (1.0 - MIN_SIMILARITY) * length
    previous = [0.0]
    for cost in extra:
        previous.append(previous[-1] + cost)
    for i, a in enumerate(source):
        missing = _ARABIC_MISSING_AT_START.get(a) if i == 0 else _ARABIC_MISSING_AT_END.get(a) if i == last else None
        if missing is None:
            missing = _ARABIC_MISSING.get(a, _FULL)
        renderings = _FINAL_H if i == last and a == "h" else _RENDERINGS.get(a, _SELF)
        current = [previous[0] + missing]
        for j, b in enumerate(target):
            substitution = 0.0 if a == b else renderings.get(b, _FULL)
            current.append(min(previous[j] + substitution, previous[j + 1] + missing, current[j] + extra[j]))
        if min(current) > budget:
            return 0.0
        previous = current
    return 1.0 - previous[-1] / length if previous[-1] <= budget else 0.0
