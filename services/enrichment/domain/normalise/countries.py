"""Country references of any common form (alpha-2, alpha-3, French or English name) to ISO alpha-2."""

from functools import lru_cache
import unicodedata

import pycountry

from services.enrichment.domain.normalise.text import fold

_SAHEL_FRENCH_NAMES = {
    "mauritanie": "MR",
    "mali": "ML",
    "burkina": "BF",
    "burkina faso": "BF",
    "niger": "NE",
    "tchad": "TD",
    "algerie": "DZ",
    "maroc": "MA",
    "senegal": "SN",
    "cote d'ivoire": "CI",
    "cote divoire": "CI",
    "guinee": "GN",
    "libye": "LY",
    "soudan": "SD",
    "nigeria": "NG",
    "cameroun": "CM",
    "benin": "BJ",
    "ghana": "GH",
    "togo": "TG",
    "republique centrafricaine": "CF",
    "centrafrique": "CF",
    "egypte": "EG",
    "tunisie": "TN",
    "gambie": "GM",
    "sahara occidental": "EH",
    "rim": "MR",
    "rmm": "ML",
    "tch": "TD",
    "rn": "NE",
}


@lru_cache(maxsize=4096)
def country_alpha2(value: str | None) -> str | None:
    """ISO alpha-2 for a code or name; None when the value names no country."""
    if not value:
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    if len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
        return found.alpha_2 if found else None
    if len(text) == 3 and text.isalpha() and text.isupper():
        found = pycountry.countries.get(alpha_3=text.upper())
        if found:
            return found.alpha_2
    folded = fold(text)
    if folded in _SAHEL_FRENCH_NAMES:
        return _SAHEL_FRENCH_NAMES[folded]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    try:
        return pycountry.countries.search_fuzzy(text)[0].alpha_2 if len(folded) >= 4 else None
    except LookupError:
        return None
