"""Arabic-script folding and a licence-safe transliteration (own letter table, anyascii for the rest)."""

import re

from anyascii import anyascii

ARABIC_CHARS = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_LETTER_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ک": "ك", "ی": "ي", "گ": "ك", "ڨ": "ق"})
_INITIAL_VOWEL = {"أ": "a", "إ": "i", "آ": "a", "ا": "a", "ع": "a"}
_LETTERS = {
    "ا": "a", "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r",
    "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f",
    "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "ou", "ي": "i", "ى": "a", "ة": "a",
    "ء": "", "أ": "a", "إ": "i", "آ": "a", "ؤ": "", "ئ": "", "پ": "p", "ڤ": "v", "گ": "g", "ڨ": "g",
}


def has_arabic(text: str) -> bool:
    return ARABIC_CHARS.search(text) is not None


def fold_arabic(token: str) -> str:
    """Lookup form: no vowel marks or tatweel, one alef, final yeh and teh marbuta unified."""
    return _DIACRITICS.sub("", token).translate(_LETTER_FORMS)


def transliterate(token: str) -> str:
    """Lower-case Latin reading of an Arabic-script token, vowels where the script writes them."""
    token = _DIACRITICS.sub("", token)
    out: list[str] = []
    for index, char in enumerate(token):
        if index == 0 and char in _INITIAL_VOWEL:
            out.append(_INITIAL_VOWEL[char])
        elif char in _LETTERS:
            out.append(_LETTERS[char])
        else:
            out.append(anyascii(char).lower())
    return "".join(out)
