"""Operating thresholds, calibrated with `python -m services.enrichment.evaluation --calibrate`."""

HIT_THRESHOLD = 0.82
REVIEW_THRESHOLD = 0.68


def outcome_for(score: float, *, hit: float = HIT_THRESHOLD, review: float = REVIEW_THRESHOLD) -> str:
    if score >= hit:
        return "hit"
    if score >= review:
        return "review"
    return "no_hit"
