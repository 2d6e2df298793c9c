"""Matching: exact identifiers first, then name candidates scored with an explanation."""

from services.enrichment.domain.matching.compare import compare, compare_canonical, compare_person_features
from services.enrichment.domain.matching.index import CandidateIndex, identifier_keys
from services.enrichment.domain.matching.person_scoring import Comparison, PersonFeatures
from services.enrichment.domain.matching.records import Candidate, RecordRef
from services.enrichment.domain.matching.thresholds import HIT_THRESHOLD, REVIEW_THRESHOLD, outcome_for

__all__ = [
    "HIT_THRESHOLD",
    "REVIEW_THRESHOLD",
    "Candidate",
    "CandidateIndex",
    "Comparison",
    "PersonFeatures",
    "RecordRef",
    "compare",
    "compare_canonical",
    "compare_person_features",
    "identifier_keys",
    "outcome_for",
]
