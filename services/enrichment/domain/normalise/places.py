"""Places resolved against the committed GeoNames gazetteer of the five states, disambiguated by country."""

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
import re

from services.enrichment.domain.normalise.phonetics import phonetic_fold
from services.enrichment.domain.normalise.text import fold

_NOISE = re.compile(r"^(?:ville de|commune de|cercle de|region de|village de|quartier)\s+")


@dataclass(frozen=True, slots=True)
class GazetteerPlace:
    geonameid: int
    country: str
    name: str
    latitude: float
    longitude: float
    population: int


@dataclass(frozen=True, slots=True)
class NormalisedPlace:
    folded: str
    country: str | None
    match: GazetteerPlace | None


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[str, list[GazetteerPlace]], dict[str, list[GazetteerPlace]]]:
    by_name: dict[str, list[GazetteerPlace]] = {}
    by_sound: dict[str, list[GazetteerPlace]] = {}
    text = resources.files(__package__).joinpath("gazetteer_sahel.tsv").read_text(encoding="utf-8")
    for line in text.splitlines()[1:]:
        geonameid, country, name, lat, lon, population, _admin1, names = line.split("\t")
        place = GazetteerPlace(int(geonameid), country, name, float(lat), float(lon), int(population))
        for alias in names.split("|"):
            by_name.setdefault(alias, []).append(place)
            by_sound.setdefault(_sound(alias), []).append(place)
    return by_name, by_sound


def _sound(folded: str) -> str:
    return phonetic_fold(folded.replace(" ", "").replace("'", "").replace("-", ""))


def _choose(places: list[GazetteerPlace], country: str | None) -> GazetteerPlace | None:
    if country:
        places = [p for p in places if p.country == country]
    unique = {p.geonameid: p for p in places}.values()
    return max(unique, key=lambda p: p.population, default=None)


def normalise_place(name: str, *, country: str | None = None) -> NormalisedPlace:
    folded = _NOISE.sub("", fold(name))
    by_name, by_sound = _gazetteer()
    match = _choose(by_name.get(folded, []), country) or _choose(by_sound.get(_sound(folded), []), country)
    return NormalisedPlace(folded, match.country if match else country, match)
