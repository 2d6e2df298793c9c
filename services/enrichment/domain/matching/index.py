"""CandidateIndex: the pure in-memory matcher the enrichment service rebuilds from stored canonical rows."""

from heapq import nlargest
from typing import Any

from shared.contracts.events import EntityType
from services.enrichment.domain.matching.compare import COMPARED_FIELDS, Canonical, canonical_of, compare_canonical, compare_person_features
from services.enrichment.domain.matching.name_scoring import RememberedComparisons
from services.enrichment.domain.matching.packed import PackedRows
from services.enrichment.domain.matching.person_index import FULL_SCORE_LIMIT, PersonStore
from services.enrichment.domain.matching.person_scoring import Comparison, PersonFeatures
from services.enrichment.domain.matching.postings import PostingMap, records_of
from services.enrichment.domain.matching.records import Candidate, RecordRef
from services.enrichment.domain.matching.refs import RefStore
from services.enrichment.domain.matching.thresholds import HIT_THRESHOLD, outcome_for
from services.enrichment.domain.normalise.keys import make_key

COMMON_NAME_POPULATION = 50
COMMON_NAME_CAP = HIT_THRESHOLD - 0.01


def identifier_keys(entity_type: EntityType, canonical: Canonical) -> list[str]:
    """Exact and blocking keys of a non-person record, recomputed from its canonical form."""
    keys: list[str] = []
    if entity_type == EntityType.VEHICLE:
        if canonical.get("vin"):
            keys.append(make_key("vin", canonical["vin"]))
        if canonical.get("plate"):
            keys.append(make_key("platenum", canonical["plate"]))
    elif entity_type == EntityType.DOCUMENT:
        if canonical.get("number"):
            keys.append(make_key("docnum", canonical["number"]))
    elif entity_type == EntityType.PHONE:
        if canonical.get("e164"):
            keys.append(make_key("phone", canonical["e164"]))
        if len(canonical.get("digits") or "") >= 8:
            keys.append(make_key("phonedigits", canonical["digits"][-8:]))
    elif entity_type == EntityType.FIREARM:
        if canonical.get("serial"):
            keys.append(make_key("firearm", "serial", canonical["serial"]))
    return keys


class _IdentifierStore:
    """Keeps of each record only the fields its comparison reads, packed: tens of bytes, not a dict."""

    def __init__(self, entity_type: EntityType) -> None:
        self.refs = RefStore()
        self._entity_type = entity_type
        self._fields = COMPARED_FIELDS[entity_type]
        self._compared = PackedRows()
        self._postings = PostingMap()

    def __len__(self) -> int:
        return len(self._compared)

    def add(self, ref: RecordRef, canonical: Canonical) -> None:
        record = self.refs.append(ref)
        self._compared.append([canonical.get(field) for field in self._fields])
        for key in identifier_keys(self._entity_type, canonical):
            self._postings.add(hash(key), record)

    def compared(self, record: int) -> Canonical:
        return dict(zip(self._fields, self._compared.get(record)))

    def candidates(self, canonical: Canonical) -> set[int]:
        found: set[int] = set()
        for key in identifier_keys(self._entity_type, canonical):
            found.update(records_of(self._postings.get(hash(key))))
        return found


class CandidateIndex:
    """Persons by name (any script), birth date, gender, nationality and documents; other types by identifiers."""

    def __init__(self) -> None:
        self._person_refs = RefStore()
        self._persons = PersonStore()
        self._others: dict[EntityType, _IdentifierStore] = {}

    def __len__(self) -> int:
        return len(self._persons) + sum(len(store) for store in self._others.values())

    # ---- adding -----------------------------------------------------------------------------

    def add(self, ref: RecordRef, entity: Any, *, reporting_country: str | None = None) -> None:
        """Adds a contract model: Person, Vehicle, Document, Phone or Firearm."""
        entity_type, canonical = canonical_of(entity, reporting_country)
        self.add_canonical(ref, entity_type, canonical)

    def add_canonical(self, ref: RecordRef, entity_type: EntityType | str, canonical: Canonical) -> None:
        """Adds a stored row: the `canonical` dict of a NormalisedEntity."""
        entity_type = EntityType(entity_type)
        if entity_type == EntityType.PERSON:
            self.add_person_features(ref, PersonFeatures.from_canonical(canonical))
        elif entity_type in (EntityType.VEHICLE, EntityType.DOCUMENT, EntityType.PHONE, EntityType.FIREARM):
            store = self._others.get(entity_type)
            if store is None:
                store = self._others[entity_type] = _IdentifierStore(entity_type)
            store.add(ref, canonical)

    def add_person_features(self, ref: RecordRef, features: PersonFeatures) -> None:
        record = self._person_refs.append(ref)
        self._persons.add(features, record)

    # ---- querying ---------------------------------------------------------------------------

    def query(self, entity: Any, *, limit: int = 10, reporting_country: str | None = None, include_no_hit: bool = False) -> list[Candidate]:
        entity_type, canonical = canonical_of(entity, reporting_country)
        return self.query_canonical(entity_type, canonical, limit=limit, include_no_hit=include_no_hit)

    def query_canonical(self, entity_type: EntityType | str, canonical: Canonical, *, limit: int = 10,
                        include_no_hit: bool = False) -> list[Candidate]:
        entity_type = EntityType(entity_type)
        if entity_type == EntityType.PERSON:
            return self.query_person(PersonFeatures.from_canonical(canonical), limit=limit, include_no_hit=include_no_hit)
        store = self._others.get(entity_type)
        if store is None:
            return []
        candidates = []
        for record in store.candidates(canonical):
            comparison = compare_canonical(entity_type, canonical, store.compared(record))
            candidates.append(self._candidate(store.refs.get(record), entity_type, comparison))
        return _ranked(candidates, limit, include_no_hit)

    def query_person(self, features: PersonFeatures, *, limit: int = 10, include_no_hit: bool = False) -> list[Candidate]:
        persons = self._persons
        with_documents = persons.records_with_documents(features.documents)
        records, population, query_skeletons = persons.candidates(features)
        year = features.birth_date[0] if features.birth_date else None

        def prescore(record: int) -> tuple[int, int]:
            return persons.prescore(record, query_skeletons), int(year is not None and persons.birth_year(record) == year)

        shortlist = set(nlargest(FULL_SCORE_LIMIT, records, key=prescore)) | with_documents
        candidates = []
        compare_names = RememberedComparisons()
        for record in shortlist:
            stored = persons.features(record)
            if record in with_documents:
                stored = PersonFeatures(stored.names, stored.aliases, stored.birth_date, stored.gender, stored.nationality,
                                        features.documents)
            comparison = compare_person_features(features, stored, compare_names=compare_names)
            comparison = _common_name_capped(comparison, features, stored, population, record in with_documents)
            if include_no_hit or comparison.outcome != "no_hit":  # a reference is built only for what may be kept
                candidates.append(self._candidate(self._person_refs.get(record), EntityType.PERSON, comparison))
        return _ranked(candidates, limit, include_no_hit)

    @staticmethod
    def _candidate(ref: RecordRef, entity_type: EntityType, comparison: Comparison) -> Candidate:
        return Candidate(ref, str(entity_type), round(comparison.score, 4), comparison.outcome, comparison.explanation)


def _common_name_capped(comparison: Comparison, query: PersonFeatures, stored: PersonFeatures, population: int,
                        shares_document: bool) -> Comparison:
    if comparison.score < COMMON_NAME_CAP or population < COMMON_NAME_POPULATION or shares_document:
        return comparison
    if query.birth_date and stored.birth_date and query.birth_date[0] == stored.birth_date[0]:
        return comparison
    explanation = [*comparison.explanation, f"common name ({population} records share it), nothing else in support"]
    return Comparison(COMMON_NAME_CAP, outcome_for(COMMON_NAME_CAP), explanation)


def _ranked(candidates: list[Candidate], limit: int, include_no_hit: bool) -> list[Candidate]:
    kept = [c for c in candidates if include_no_hit or c.outcome != "no_hit"]
    kept.sort(key=lambda c: (-c.score, c.ref))
    return kept[:limit]
