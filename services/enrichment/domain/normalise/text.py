"""Script-neutral text folding shared by every normaliser."""

import re
import unicodedata

from anyascii import anyascii

_ARABIC_INDIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SPACES = re.compile(r"\s+")


def ascii_digits(text: str) -> str:
    return text.translate(_ARABIC_INDIC_DIGITS)


def strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """NFKC, no accents, lower case ASCII, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = anyascii(strip_marks(ascii_digits(text))).lower()
    return _SPACES.sub(" ", text).strip()


def alnum_upper(text: str) -> str:
    """Identifier folding: ASCII digits, upper case, letters and digits only."""
    text = unicodedata.normalize("NFKC", ascii_digits(text))
    return "".join(ch for ch in anyascii(strip_marks(text)).upper() if ch.isalnum())
