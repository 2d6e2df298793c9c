"""Travel and identity documents: number, type, issuing state; ICAO 9303 MRZ check digits."""

from dataclasses import dataclass

from services.enrichment.domain.normalise.countries import country_alpha2
from services.enrichment.domain.normalise.text import alnum_upper

_MRZ_VALUES = {**{str(d): d for d in range(10)}, **{chr(ord("A") + i): 10 + i for i in range(26)}, "<": 0}
_MRZ_WEIGHTS = (7, 3, 1)


def mrz_check_digit(field: str) -> str:
    """ICAO 9303 part 3 check digit: weights 7-3-1, digits as values, A=10..Z=35, filler '<' = 0."""
    total = 0
    for index, char in enumerate(field.upper()):
        if char not in _MRZ_VALUES:
            raise ValueError(f"character {char!r} is not allowed in an MRZ")
        total += _MRZ_VALUES[char] * _MRZ_WEIGHTS[index % 3]
    return str(total % 10)


def _check(field: str, digit: str) -> bool:
    if digit == "<":
        return set(field) <= {"<"}
    try:
        return mrz_check_digit(field) == digit
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class MrzData:
    document_code: str
    issuing_state: str
    number: str
    birth_date: str
    sex: str
    expiry_date: str
    nationality: str
    number_ok: bool
    birth_date_ok: bool
    expiry_date_ok: bool
    composite_ok: bool

    @property
    def valid(self) -> bool:
        return self.number_ok and self.birth_date_ok and self.expiry_date_ok and self.composite_ok


def parse_mrz(lines: list[str]) -> MrzData | None:
    """Reads TD3 (2 x 44, passports) and TD1 (3 x 30, ID cards); None for other layouts."""
    lines = [line.strip().upper().replace(" ", "") for line in lines if line.strip()]
    if len(lines) == 2 and all(len(line) == 44 for line in lines):
        return _parse_td3(*lines)
    if len(lines) == 3 and all(len(line) == 30 for line in lines):
        return _parse_td1(*lines)
    return None


def _parse_td3(first: str, second: str) -> MrzData:
    number, birth, expiry = second[0:9], second[13:19], second[21:27]
    composite = second[0:10] + second[13:20] + second[21:43]
    return MrzData(
        document_code=first[0:2].rstrip("<"), issuing_state=first[2:5].rstrip("<"), number=number.rstrip("<"),
        birth_date=birth, sex=second[20], expiry_date=expiry, nationality=second[10:13].rstrip("<"),
        number_ok=_check(number, second[9]), birth_date_ok=_check(birth, second[19]),
        expiry_date_ok=_check(expiry, second[27]), composite_ok=_check(composite, second[43]),
    )


def _parse_td1(first: str, second: str, third: str) -> MrzData:
    number, birth, expiry = first[5:14], second[0:6], second[8:14]
    composite = first[5:30] + second[0:7] + second[8:15] + second[18:29]
    return MrzData(
        document_code=first[0:2].rstrip("<"), issuing_state=first[2:5].rstrip("<"), number=number.rstrip("<"),
        birth_date=birth, sex=second[7], expiry_date=expiry, nationality=second[15:18].rstrip("<"),
        number_ok=_check(number, first[14]), birth_date_ok=_check(birth, second[6]),
        expiry_date_ok=_check(expiry, second[14]), composite_ok=_check(composite, second[29]),
    )


@dataclass(frozen=True, slots=True)
class NormalisedDocument:
    type: str
    number: str
    issuing_country: str | None
    mrz_valid: bool | None


def normalise_document(type_: str, number: str, issuing_country: str | None, mrz: list[str] | None = None) -> NormalisedDocument:
    folded_number = alnum_upper(number)
    country = country_alpha2(issuing_country)
    mrz_data = parse_mrz(mrz) if mrz else None
    if mrz_data is not None:
        country = country or country_alpha2(mrz_data.issuing_state)
        if mrz_data.number_ok and not folded_number:
            folded_number = mrz_data.number
    return NormalisedDocument(str(type_), folded_number, country, mrz_data.valid if mrz_data else None)
