"""Name-matching evaluation: precision, recall and F1 per category at the operating threshold.

    python -m services.enrichment.evaluation [--calibrate] [--names-data PATH] [--show-public-misses dev]

Reads the committed Sahel set (tests/data/sahel_names/*.tsv) and, when present, the public
Arabic/Latin name-word pairs in ../shared/data/names (or $PCMS_NAMES_DATA).

Public pairs are reported three ways: the original sample (Google eval file plus 1,500 Wikidata
pairs drawn from the whole list), and a development / held-out split. The split keeps Google's
own train/eval files and cuts the Wikidata list in two by a hash of the Latin word's consonants,
so spellings of one name never fall on both sides. Rules are developed on the dev split only.
"""

import argparse
from collections import defaultdict
from collections.abc import Iterable
import csv
import os
from pathlib import Path
import random
import re
import zlib

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from services.enrichment.domain.matching.compare import compare_person_features
from services.enrichment.domain.matching.person_scoring import PersonFeatures
from services.enrichment.domain.matching.thresholds import HIT_THRESHOLD, REVIEW_THRESHOLD
from services.enrichment.domain.matching.tokens import token_similarity
from services.enrichment.domain.normalise.names import parse_name

ROOT = Path(__file__).resolve().parents[2]
SAHEL_SET = ROOT / "tests" / "data" / "sahel_names"
PUBLIC_SAMPLE = 1_500
Example = tuple[str, str, bool, str]


def names_data_folder(override: str | None) -> Path:
    return Path(override or os.environ.get("PCMS_NAMES_DATA") or ROOT.parent / "shared" / "data" / "names")


def sahel_examples() -> list[Example]:
    examples: list[Example] = []
    for path in sorted(SAHEL_SET.glob("*.tsv")):
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                examples.append((row["left"], row["right"], row["label"] == "match", row["category"]))
    return examples


SPLITS = ("legacy", "dev", "test")
_SPLIT_NOT_CONSONANT = re.compile(r"[^bcdfgjklmnpqrstvxz]")
_SPLIT_REPEATS = re.compile(r"(.)\1+")


def wikidata_split(latin: str) -> str:
    """Fixed (independent of the matcher's own keys) dev/test side of a Wikidata pair."""
    consonants = _SPLIT_REPEATS.sub(r"\1", _SPLIT_NOT_CONSONANT.sub("", latin.lower()))
    return "dev" if zlib.crc32(consonants.encode()) % 2 == 0 else "test"


def _google(folder: Path, file: str) -> Iterable[tuple[str, str]]:
    path = folder / "google-ar2en" / file
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            arabic, _, latin = line.partition("\t")
            if arabic and latin:
                yield arabic.strip(), latin.strip()


def _wikidata(folder: Path) -> Iterable[tuple[str, str]]:
    path = folder / "wikidata-ar" / "pairs.tsv"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                yield parts[1].replace(" ", ""), parts[0].strip()


def _public_pairs(folder: Path, split: str = "legacy") -> Iterable[tuple[str, str, str]]:
    google_file = "train.txt" if split == "dev" else "eval.txt"
    for arabic, latin in _google(folder, google_file):
        yield arabic, latin, "public_google_ar2en"
    for arabic, latin in _wikidata(folder):
        if split == "legacy" or wikidata_split(latin) == split:
            yield arabic, latin, "public_wikidata_ar"


def public_examples(folder: Path, split: str = "legacy") -> list[Example]:
    """Positive word pairs plus, for each, a hard negative: the most similar other Latin word
    that is not a spelling of the same name (different skeleton and phonetic fold), drawn from
    the same group of 1,500 pairs. The legacy split samples 1,500 pairs a source; dev and test
    use every pair of their side, in groups of 1,500 so negatives are as hard as in the sample."""
    by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for arabic, latin, source in _public_pairs(folder, split):
        by_source[source].append((arabic, latin))
    examples: list[Example] = []
    rng = random.Random(9303)
    for source, pairs in sorted(by_source.items()):
        if split == "legacy":
            groups = [rng.sample(pairs, min(PUBLIC_SAMPLE, len(pairs)))]
        else:
            pairs = rng.sample(pairs, len(pairs))
            groups = [pairs[i : i + PUBLIC_SAMPLE] for i in range(0, len(pairs), PUBLIC_SAMPLE)]
        for group in groups:
            examples.extend(_with_negatives(group, source))
    return examples


# Negatives are chosen with a frozen copy of the matcher's first keys, so changing the matcher's
# phonetic fold or skeleton cannot change (and so cannot ease) the set of hard negatives.
_FROZEN_FOLD = [(re.compile(p), r) for p, r in (
    (r"(.)\1+", r"\1"), (r"tch", "ch"), (r"dj", "j"), (r"ph", "f"), (r"ck|q", "k"), (r"c(?=[aou]|[^aeiouyh]|$)", "k"),
    (r"ou", "u"), (r"w", "u"), (r"y", "i"), (r"ee", "i"), (r"(?<=[^aeiou])e$", ""), (r"(.)\1+", r"\1"))]
_FROZEN_SKELETON = [(re.compile(p), r) for p, r in (
    (r"(.)\1+", r"\1"), (r"tch|tsh|sch|sh|ch", "x"), (r"kh|gh|ck|qu|q", "k"), (r"ph", "f"), (r"th", "t"), (r"dh", "d"),
    (r"dj|dz", "j"), (r"c(?=[eiy])", "s"), (r"c", "k"))]
_FROZEN_CLASSES = str.maketrans({"p": "b", "d": "t", "v": "f", "g": "k", "z": "s"})


def _frozen_keys(word: str) -> tuple[str, str]:
    fold = word
    for pattern, replacement in _FROZEN_FOLD:
        fold = pattern.sub(replacement, fold)
    skel = word
    for pattern, replacement in _FROZEN_SKELETON:
        skel = pattern.sub(replacement, skel)
    skel = re.sub(r"[^bcfjklmnrstx]", "", _SPLIT_REPEATS.sub(r"\1", skel.translate(_FROZEN_CLASSES)))
    return fold, skel


def _with_negatives(pairs: list[tuple[str, str]], source: str) -> list[Example]:
    examples: list[Example] = []
    latin_words = sorted({latin.lower() for _, latin in pairs})
    for arabic, latin in pairs:
        examples.append((arabic, latin, True, source))
        own = _frozen_keys(latin.lower())
        choices = process.extract(latin.lower(), latin_words, scorer=Levenshtein.normalized_similarity, limit=12)
        negative = next((w for w, _, _ in choices if all(x != y for x, y in zip(_frozen_keys(w), own))), None)
        if negative:
            examples.append((arabic, negative, False, f"{source}_negative"))
    return examples


def name_score(left: str, right: str) -> float:
    return compare_person_features(PersonFeatures((parse_name(left),)), PersonFeatures((parse_name(right),))).score


def word_score(arabic: str, latin: str) -> float:
    """Public sets are single words: compare the two tokens directly."""
    a, b = parse_name(arabic).tokens, parse_name(latin).tokens
    if not a or not b:
        return 0.0
    return max(token_similarity(x, y, True)[0] for x in a for y in b)


def scored(examples: list[Example]) -> list[tuple[float, bool, str]]:
    out = []
    for left, right, label, category in examples:
        scorer = word_score if category.startswith("public_") else name_score
        out.append((scorer(left, right), label, category))
    return out


def _group(category: str) -> str:
    return category.removesuffix("_negative") if category.startswith("public_") else category


def metrics(rows: list[tuple[float, bool, str]], threshold: float) -> tuple[int, int, int, int]:
    tp = sum(1 for s, label, _ in rows if label and s >= threshold)
    fp = sum(1 for s, label, _ in rows if not label and s >= threshold)
    fn = sum(1 for s, label, _ in rows if label and s < threshold)
    tn = sum(1 for s, label, _ in rows if not label and s < threshold)
    return tp, fp, fn, tn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def report(title: str, rows: list[tuple[float, bool, str]], threshold: float, by: str = "category") -> None:
    print(f"\n{title} (threshold {threshold:.2f})")
    print(f"{'category':34} {'pos':>5} {'neg':>5} {'fp':>4} {'precision':>9} {'recall':>7} {'f1':>6}")
    groups: dict[str, list[tuple[float, bool, str]]] = defaultdict(list)
    for row in rows:
        groups[_group(row[2]) if by == "category" else by].append(row)
    for name in sorted(groups):
        group = groups[name]
        tp, fp, fn, tn = metrics(group, threshold)
        positives, negatives = tp + fn, fp + tn
        precision, recall, f1 = prf(tp, fp, fn)
        shown_recall = f"{recall:7.3f}" if positives else "      -"
        shown_f1 = f"{f1:6.3f}" if positives else "     -"
        shown_precision = f"{precision:9.3f}" if tp + fp else "        -"
        print(f"{name:34} {positives:5} {negatives:5} {fp:4} {shown_precision} {shown_recall} {shown_f1}")
    tp, fp, fn, _ = metrics(rows, threshold)
    precision, recall, f1 = prf(tp, fp, fn)
    print(f"{'ALL':34} {tp + fn:5} {len(rows) - tp - fn:5} {fp:4} {precision:9.3f} {recall:7.3f} {f1:6.3f}")


def script_split(rows: list[tuple[float, bool, str]], examples: list[Example]) -> list[tuple[float, bool, str]]:
    from services.enrichment.domain.normalise.arabic import has_arabic

    return [(s, label, "cross_script_pairs" if has_arabic(l + r) else "same_script_pairs")
            for (s, label, _), (l, r, _, _) in zip(rows, examples)]


def calibrate(rows: list[tuple[float, bool, str]]) -> None:
    print("\ncalibration sweep on the Sahel set (threshold: precision recall f1)")
    for step in range(60, 100, 2):
        threshold = step / 100
        tp, fp, fn, _ = metrics(rows, threshold)
        precision, recall, f1 = prf(tp, fp, fn)
        print(f"  {threshold:.2f}: {precision:.3f} {recall:.3f} {f1:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="print a threshold sweep")
    parser.add_argument("--names-data", help="folder of public name pairs (default ../shared/data/names)")
    parser.add_argument("--show-errors", action="store_true", help="print misclassified Sahel pairs")
    parser.add_argument("--show-public-misses", action="store_true", help="print errors on the public development split")
    args = parser.parse_args(argv)

    sahel = sahel_examples()
    sahel_rows = scored(sahel)
    report(f"Sahel labelled set, {len(sahel)} pairs, predicted match = outcome 'hit'", sahel_rows, HIT_THRESHOLD)
    report("Sahel labelled set by script", script_split(sahel_rows, sahel), HIT_THRESHOLD)
    report("Sahel labelled set, predicted match = 'hit' or 'review'", sahel_rows, REVIEW_THRESHOLD)
    if args.show_errors:
        print("\nmisclassified at the hit threshold:")
        for (score, label, category), (left, right, _, _) in zip(sahel_rows, sahel):
            if label != (score >= HIT_THRESHOLD):
                print(f"  {category:24} {'match' if label else 'nonmatch':8} {score:.2f}  {left} | {right}")
    if args.calibrate:
        calibrate(sahel_rows)

    folder = names_data_folder(args.names_data)
    if not folder.exists():
        print(f"\npublic name pairs not found at {folder}: evaluated the committed Sahel set only")
        return
    for split, title in (("legacy", "original sample"), ("dev", "development split"), ("test", "held-out split")):
        public = public_examples(folder, split)
        rows = scored(public)
        report(f"public Arabic/Latin name words, {title}, {len(public)} pairs (word level)", rows, HIT_THRESHOLD)
        if split == "dev" and args.show_public_misses:
            print("\ndevelopment-split errors at the hit threshold:")
            for (score, label, category), (left, right, _, _) in zip(rows, public):
                if label != (score >= HIT_THRESHOLD):
                    print(f"  {category:30} {score:.2f}  {left} | {right} | {' '.join(t.latin for t in parse_name(left).tokens)}")


if __name__ == "__main__":
    main()
