"""Person-matching benchmark: build time, memory and query latency against N synthetic persons.

    python -m bench.matching_bench --persons 1000000 [--public-pairs 2000]

Writes bench/results/matching.json. Figures only, no asserts.

--public-pairs N also measures cross-script retrieval end to end, after the latency figures: N
held-out public Arabic/Latin name words (services.enrichment.evaluation, split "test") become the
surnames of N more persons written in Latin script, each is queried in Arabic script against the
whole index, and the figure counts the queries whose own record comes back as a hit (recall) and the
hits on another record (wrong hits).
"""

import argparse
import gc
import json
from pathlib import Path
import random
import resource
import statistics
import time
import uuid
from collections.abc import Iterator

from services.enrichment.domain.matching import CandidateIndex, PersonFeatures, RecordRef
from services.enrichment.domain.regional import RegionalMatcher
from services.enrichment.ports import StoredEntity

# ---- deterministic synthetic Sahel persons (Latin and Arabic script) as stored canonical rows ----
GIVEN_MALE = [
    ("Mohamed", "محمد", 30), ("Ahmed", "أحمد", 12), ("Mahamat", "محمد", 8), ("Moussa", "موسى", 8), ("Oumar", "عمر", 7),
    ("Ibrahim", "إبراهيم", 7), ("Abdallahi", "عبد الله", 6), ("Amadou", "أمادو", 8), ("Mamadou", "ممادو", 7),
    ("Ousmane", "عثمان", 6), ("Issa", "عيسى", 5), ("Aboubacar", "أبو بكر", 5), ("Sidi", "سيدي", 4), ("Cheikh", "الشيخ", 3),
    ("Mahmoud", "محمود", 4), ("Youssouf", "يوسف", 4), ("Souleymane", "سليمان", 4), ("Idrissa", "إدريس", 3),
    ("Hamidou", "حميدو", 3), ("Yacouba", "يعقوب", 3), ("Adama", "آدم", 4), ("Seydou", "سيدو", 3), ("Boubacar", "أبو بكر", 4),
    ("Abdelkader", "عبد القادر", 2), ("Abderrahmane", "عبد الرحمن", 2), ("Moustapha", "مصطفى", 3), ("Ismail", "إسماعيل", 2),
    ("Hassan", "حسن", 3), ("Hussein", "حسين", 2), ("Ali", "علي", 4), ("Djibril", "جبريل", 2), ("Haroun", "هارون", 2),
    ("Zakaria", "زكريا", 1), ("Yahya", "يحيى", 1), ("Mokhtar", "مختار", 2), ("Khalil", "خليل", 1), ("Bilal", "بلال", 1),
    ("Hamza", "حمزة", 1), ("Khaled", "خالد", 1), ("Salif", "ساليف", 2), ("Bakary", "بكاري", 2), ("Lamine", "الأمين", 2),
    ("Issoufou", "إسوفو", 2), ("Modibo", "موديبو", 1), ("Saleh", "صالح", 2), ("Iyad", "إياد", 1), ("Tidiane", "التجاني", 1),
]
GIVEN_FEMALE = [
    ("Fatimata", "فاطمة", 10), ("Aicha", "عائشة", 8), ("Aminata", "آمنة", 7), ("Mariam", "مريم", 7), ("Khadija", "خديجة", 5),
    ("Zeinab", "زينب", 4), ("Hawa", "حواء", 4), ("Halima", "حليمة", 3), ("Safiatou", "صفية", 2), ("Rokia", "رقية", 2),
    ("Fatimetou", "فاطمة", 4), ("Mariem", "مريم", 3), ("Hadiza", "خديجة", 2), ("Salamata", "سلامة", 2), ("Ramatou", "رحمة", 2),
]
FAMILY = [
    ("Traoré", "تراوري"), ("Touré", "توري"), ("Keïta", "كيتا"), ("Coulibaly", "كوليبالي"), ("Diarra", "ديارا"),
    ("Maïga", "مايغا"), ("Cissé", "سيسي"), ("Ouédraogo", "ويدراوغو"), ("Sawadogo", "ساوادوغو"), ("Diallo", "ديالو"),
    ("Dicko", "ديكو"), ("Sanogo", "سانوغو"), ("Sangaré", "سنغاري"), ("Ouattara", "واتارا"), ("Kaboré", "كابوري"),
    ("Zongo", "زونغو"), ("Compaoré", "كومباوري"), ("Koné", "كوني"), ("Camara", "كمارا"), ("Konaté", "كوناتي"),
]
SYLLABLES = [("ba", "با"), ("ka", "كا"), ("ma", "ما"), ("ta", "تا"), ("sa", "سا"), ("da", "دا"), ("ga", "غا"), ("na", "نا"),
             ("ra", "را"), ("la", "لا"), ("ko", "كو"), ("mo", "مو"), ("to", "تو"), ("bo", "بو"), ("do", "دو"), ("go", "غو"),
             ("di", "دي"), ("ki", "كي"), ("si", "سي"), ("ni", "ني"), ("ri", "ري"), ("li", "لي"), ("zou", "زو"), ("dja", "جا"),
             ("wa", "وا"), ("ya", "يا"), ("ha", "ها"), ("fa", "فا"), ("kou", "كو"), ("mou", "مو"), ("tou", "تو"), ("sou", "سو")]
NATIONALITIES = [("MR", 20), ("ML", 25), ("BF", 20), ("NE", 20), ("TD", 15)]
PLATFORMS = ["MR", "ML", "BF", "NE", "TD", "HUB"]


def synthetic_surnames(rng: random.Random, count: int) -> list[tuple[str, str]]:
    names: dict[str, str] = {}
    while len(names) < count:
        parts = [rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 4)))]
        latin = "".join(p[0] for p in parts)
        names.setdefault(latin.capitalize(), "".join(p[1] for p in parts))
    return list(names.items())


class PersonGenerator:
    def __init__(self, seed: int = 1_000_003) -> None:
        self.rng = random.Random(seed)
        surnames = synthetic_surnames(self.rng, 6_000)
        self.family = FAMILY * 40 + surnames
        self.male = [(l, a) for l, a, w in GIVEN_MALE for _ in range(w)]
        self.female = [(l, a) for l, a, w in GIVEN_FEMALE for _ in range(w)]
        self.nationalities = [c for c, w in NATIONALITIES for _ in range(w)]

    def person(self) -> dict:
        rng = self.rng
        female = rng.random() < 0.3
        given = rng.choice(self.female if female else self.male)
        nationality = rng.choice(self.nationalities)
        if nationality == "MR" or rng.random() < 0.15:
            father = rng.choice(self.male + self.family[-6_000:])
            particle = ("Mint", "منت") if female else (("Ould", "ولد") if nationality == "MR" else ("Ag", "أغ"))
            latin = f"{given[0]} {particle[0]} {father[0]}"
            arabic = f"{given[1]} {particle[1]} {father[1]}"
        else:
            family = rng.choice(self.family)
            middle = rng.choice(self.male) if rng.random() < 0.4 else None
            latin = " ".join(p[0] for p in (given, middle, family) if p)
            arabic = " ".join(p[1] for p in (given, middle, family) if p)
        names = [{"text": latin}]
        if rng.random() < 0.4:
            names.append({"text": arabic})
        year = rng.randint(1950, 2008)
        precision = rng.random()
        birth = None if precision < 0.2 else (str(year) if precision < 0.5 else f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        return {"names": names, "aliases": [], "birth_date": birth, "nationality": nationality,
                "gender": "female" if female else "male", "documents": []}

    def persons(self, count: int) -> Iterator[dict]:
        for _ in range(count):
            yield self.person()


RESULTS = Path(__file__).with_name("results") / "matching.json"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def perturbed(rng: random.Random, canonical: dict) -> dict:
    """A query as another officer would write it: other script, spelling slip or surname first."""
    text = rng.choice(canonical["names"])["text"]
    kind = rng.random()
    if kind < 0.3 and " " in text:
        words = text.split()
        text = " ".join([words[-1].upper(), *words[:-1]])
    elif kind < 0.6:
        words = text.split()
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4:
            j = rng.randrange(1, len(w) - 1)
            words[i] = w[:j] + w[j + 1 :]
        text = " ".join(words)
    return {"names": [{"text": text}], "birth_date": canonical["birth_date"], "nationality": canonical["nationality"],
            "gender": canonical["gender"], "documents": []}


def public_pair_retrieval(index: CandidateIndex, count: int) -> dict:
    """Latin-script persons named after held-out public name words, queried in Arabic script."""
    from services.enrichment.evaluation import _public_pairs, names_data_folder

    folder = names_data_folder(None)
    pairs = sorted({(arabic, latin) for arabic, latin, _ in _public_pairs(folder, "test")})
    if not pairs:
        return {"skipped": f"no public name pairs at {folder}"}
    rng = random.Random(2024)
    pairs = rng.sample(pairs, min(count, len(pairs)))
    given = [(latin, arabic) for latin, arabic, _ in GIVEN_MALE]
    queries = []
    for n, (arabic, latin) in enumerate(pairs):
        first = rng.choice(given)
        ref = RecordRef("HUB", str(uuid.UUID(int=rng.getrandbits(128), version=4)), 0)
        index.add_canonical(ref, "person", {"names": [{"text": f"{first[0]} {latin.capitalize()}"}], "aliases": [],
                                            "birth_date": None, "nationality": None, "gender": "male", "documents": []})
        queries.append((ref, f"{first[1]} {arabic}"))
    own_hit = own_found = wrong_hits = 0
    latencies = []
    for ref, text in queries:
        started = time.perf_counter()
        results = index.query_person(PersonFeatures.from_canonical({"names": [{"text": text}]}), include_no_hit=True)
        latencies.append((time.perf_counter() - started) * 1000)
        own_found += any(r.ref == ref for r in results)
        own_hit += any(r.ref == ref and r.outcome == "hit" for r in results)
        wrong_hits += sum(1 for r in results if r.ref != ref and r.outcome == "hit")
    latencies.sort()
    return {"pairs": len(queries), "own_record_hit": own_hit, "recall_at_hit": round(own_hit / len(queries), 3),
            "own_record_retrieved": own_found, "wrong_hits": wrong_hits,
            "query_ms_p50": round(latencies[len(latencies) // 2], 3)}


class _Adder:
    """Adds one person as the enrichment does: to a CandidateIndex, or (regional) through RegionalMatcher.load, with
    its per-message bookkeeping."""

    def __init__(self, regional: bool) -> None:
        self._matcher = RegionalMatcher() if regional else None
        self._index = self._matcher.index if self._matcher is not None else CandidateIndex()

    def __call__(self, ref: RecordRef, canonical: dict) -> None:
        if self._matcher is None:
            self._index.add_canonical(ref, "person", canonical)
        else:
            self._matcher.load([StoredEntity(ref.message_id, ref.platform, "person", ref.position, canonical, "H0")])

    def index(self) -> CandidateIndex:
        if self._matcher is not None:
            self._matcher.finish_loading()
        return self._index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--public-pairs", type=int, default=0, metavar="N",
                        help="also query N held-out public Arabic/Latin name pairs across scripts (needs ../shared/data/names)")
    parser.add_argument("--regional", action="store_true",
                        help="build as the enrichment service does at start: RegionalMatcher.load of stored rows "
                             "(adds the per-message bookkeeping that keeps redeliveries out)")
    args = parser.parse_args(argv)

    rss_start = rss_mb()
    rng = random.Random(42)
    # The persons are indexed as they are generated: holding them all first left the freed rows' memory in the
    # process, and the index was charged with it (905 MB for a million persons that take about 100 MB).
    wanted = set(rng.sample(range(args.persons), min(args.queries // 2, args.persons)))
    add = _Adder(args.regional)
    print(f"generating and indexing {args.persons:,} synthetic persons...")
    sample: list[dict] = []
    generated_in = build_seconds = 0.0
    clock = time.perf_counter
    persons = iter(PersonGenerator().persons(args.persons))
    gc.disable()
    for i in range(args.persons):
        started = clock()
        canonical = next(persons)
        ref = RecordRef(PLATFORMS[i % len(PLATFORMS)], str(uuid.UUID(int=rng.getrandbits(128), version=4)), 0)
        generated = clock()
        add(ref, canonical)
        build_seconds += clock() - generated
        generated_in += generated - started
        if i in wanted:
            sample.append(canonical)
    gc.enable()
    index = add.index()
    known = [PersonFeatures.from_canonical(perturbed(rng, c)) for c in sample]
    fresh = [PersonFeatures.from_canonical(c) for c in PersonGenerator(seed=7).persons(args.queries - len(known))]
    del sample
    gc.collect()
    rss_total = rss_mb()
    rss_index = rss_total - rss_start

    latencies: list[float] = []
    found = 0
    for features in known + fresh:
        started = time.perf_counter()
        result = index.query_person(features)
        latencies.append((time.perf_counter() - started) * 1000)
        found += bool(result)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    figures = {
        "persons": args.persons,
        "build": "RegionalMatcher.load" if args.regional else "CandidateIndex.add_canonical",
        "queries": len(latencies),
        "generation_seconds": round(generated_in, 2),
        "index_build_seconds": round(build_seconds, 2),
        "index_memory_mb": round(rss_index, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "process_rss_mb": round(rss_total, 1),
        "query_ms": {"p50": round(pct(50), 3), "p95": round(pct(95), 3), "p99": round(pct(99), 3),
                     "max": round(latencies[-1], 3), "mean": round(statistics.fmean(latencies), 3)},
        "queries_with_candidates": found,
    }
    if args.public_pairs:
        figures["cross_script_retrieval"] = public_pair_retrieval(index, args.public_pairs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
