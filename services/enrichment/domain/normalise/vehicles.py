"""Vehicle plates and VINs in comparable form."""

from dataclasses import dataclass
import re

from services.enrichment.domain.normalise.countries import country_alpha2
from services.enrichment.domain.normalise.text import alnum_upper, ascii_digits

_SEGMENTS = re.compile(r"[\s\-_.·/|]+")
PLATE_STATE_CODES = {"RIM": "MR", "RMM": "ML", "BF": "BF", "RN": "NE", "TCH": "TD", "TD": "TD", "NE": "NE", "MR": "MR", "ML": "ML",
                     "NER": "NE", "MLI": "ML", "MRT": "MR", "BFA": "BF", "TCD": "TD"}
_VIN_FIXES = str.maketrans({"O": "0", "Q": "0", "I": "1"})
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))),
               "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True, slots=True)
class NormalisedPlate:
    number: str
    country: str | None


def normalise_plate(plate: str, *, plate_country: str | None = None) -> NormalisedPlate:
    """Upper-case letters and digits; a state code printed on the plate is removed and used as country."""
    segments = [alnum_upper(s) for s in _SEGMENTS.split(ascii_digits(plate).strip()) if s]
    segments = [s for s in segments if s]
    country = country_alpha2(plate_country) if plate_country else None
    if len(segments) > 1:
        for edge in (0, -1):
            code = PLATE_STATE_CODES.get(segments[edge])
            if code and (country is None or code == country):
                country = code
                segments.pop(edge)
                break
    return NormalisedPlate("".join(segments), country)


def normalise_vin(vin: str) -> str:
    """Upper case without separators; I, O and Q (never used in a VIN) read as 1 and 0."""
    return alnum_upper(vin).translate(_VIN_FIXES)


def vin_check_digit_ok(vin: str) -> bool:
    """ISO 3779 position-9 check (mandatory in North America, informative elsewhere)."""
    if len(vin) != 17 or any(ch not in _VIN_VALUES for ch in vin):
        return False
    total = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(vin, _VIN_WEIGHTS))
    expected = "X" if total % 11 == 10 else str(total % 11)
    return vin[8] == expected
