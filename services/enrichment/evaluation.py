"""Name-matching evaluation: precision, recall and F1 per category at the operating threshold.

    python -m services.enrichment.evaluation [--calibrate] [--names-data PATH]

Reads the committed Sahel set (tests/data/sahel_names/*.tsv) and, when present, the public
Arabic/Latin name-word pairs in ../shared/data/names (or $PCMS_NAMES_DATA).
"""

import argparse
from collections import defaultdict
from collections.abc import Iterable
import csv
import os
from pathlib import Path
import random

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from services.enrichment.domain.matching.compare import compare_person_features
from services.enrichment.domain.matching.person_scoring import PersonFeatures
from services.enrichment.domain.matching.thresholds import HIT_THRESHOLD, REVIEW_THRESHOLD
from services.enrichment.domain.matching.tokens import token_similarity
from services.enrichment.domain.normalise.names import parse_name
from services.enrichment.domain.normalise.phonetics import phonetic_fold, skeleton

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


def _public_pairs(folder: Path) -> Iterable[tuple[str, str, str]]:
    google = folder / "google-ar2en" / "eval.txt"
    if google.exists():
        for line in google.read_text(encoding="utf-8").splitlines():
            arabic, _, latin = line.partition("\t")
            if arabic and latin:
                yield arabic.strip(), latin.strip(), "public_google_ar2en"
    wikidata = folder / "wikidata-ar" / "pairs.tsv"
    if wikidata.exists():
        for line in wikidata.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                yield parts[1].replace(" ", ""), parts[0].strip(), "public_wikidata_ar"


def public_examples(folder: Path) -> list[Example]:
    """Positive word pairs plus, for each, a hard negative: the most similar other Latin word
    that is not a spelling of the same name (different skeleton and phonetic fold)."""
    by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for arabic, latin, source in _public_pairs(folder):
        by_source[source].append((arabic, latin))
    examples: list[Example] = []
    rng = random.Random(9303)
    for source, pairs in sorted(by_source.items()):
        pairs = rng.sample(pairs, min(PUBLIC_SAMPLE, len(pairs)))
        latin_words = sorted({latin.lower() for _, latin in pairs})
        for arabic, latin in pairs:
            examples.append((arabic, latin, True, source))
            own_fold, own_skeleton = phonetic_fold(latin.lower()), skeleton(latin.lower())
            choices = process.extract(latin.lower(), latin_words, scorer=Levenshtein.normalized_similarity, limit=12)
            negative = next(
                (w for w, _, _ in choices if phonetic_fold(w) != own_fold and skeleton(w) != own_skeleton), None
            )
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
    public = public_examples(folder)
    report(f"public Arabic/Latin name words from {folder}, {len(public)} pairs (word level)", scored(public), HIT_THRESHOLD)


if __name__ == "__main__":
    main()
