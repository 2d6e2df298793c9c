"""In-memory person index: skeleton and skeleton-pair postings over int ids, features in flat arrays.

Candidate generation prefers records sharing two name parts (pair postings); single parts are used
only when rare, so very common given names never cost a scan of their whole posting list.
"""

from array import array
from collections.abc import Iterable
from itertools import combinations

from services.enrichment.domain.matching.person_scoring import PersonFeatures
from services.enrichment.domain.matching.postings import Posting, PostingMap, records_of, size_of
from services.enrichment.domain.normalise.names import NO_RELATION, NameToken, ParsedName
from services.enrichment.domain.normalise.phonetics import coarse_skeleton

_ARABIC, _ALIAS = 1, 2
_GENDERS = ("unknown", "male", "female")
_PAIR_SHIFT = 24
RARE_SINGLE_POSTING = 1_000
MIN_RARE_SINGLE_POSTING = 50
CANDIDATE_BUDGET = 800
FULL_SCORE_LIMIT = 20
MAX_TYPO_ALTERNATIVES = 6


def blocking_skeleton(token: NameToken) -> str:
    """Coarse skeleton (j/k and sh/s together, see phonetics.coarse_skeleton), or the key when it has none."""
    return coarse_skeleton(token.skeleton) if token.skeleton else f"_{token.key}"


def _deletions(skeleton: str) -> set[str]:
    return {skeleton[:i] + skeleton[i + 1 :] for i in range(len(skeleton))}


class PersonStore:
    def __init__(self) -> None:
        self._tokens: list[NameToken] = []
        self._token_ids: dict[NameToken, int] = {}
        self._token_skeleton = array("I")
        self._token_variants: dict[int, NameToken] = {}
        self._skeletons: list[str] = []
        self._skeleton_ids: dict[str, int] = {}
        self._skeleton_postings: list[array] = []
        self._skeleton_neighbours: dict[str, list[int]] | None = None
        self._pair_postings = PostingMap()
        self._document_postings = PostingMap()
        self._name_tokens = array("I")
        self._name_starts = array("I", [0])
        self._name_flags = bytearray()
        self._record_names = array("I", [0])
        self._birth = array("I")
        self._gender = bytearray()
        self._nationality = array("H")
        self._countries: list[str | None] = [None]
        self._country_ids: dict[str | None, int] = {None: 0}

    def __len__(self) -> int:
        return len(self._birth)

    # ---- building ---------------------------------------------------------------------------

    def _token_id(self, token: NameToken) -> int:
        bare = token if token.relation == NO_RELATION else NameToken(token.key, token.skeleton, token.latin, NO_RELATION, token.family)
        token_id = self._token_ids.get(bare)
        if token_id is None:
            token_id = self._token_ids[bare] = len(self._tokens)
            self._tokens.append(bare)
            self._token_skeleton.append(self._skeleton_id(blocking_skeleton(bare), create=True))
        return token_id

    def _skeleton_id(self, skeleton: str, *, create: bool = False) -> int | None:
        skeleton_id = self._skeleton_ids.get(skeleton)
        if skeleton_id is None and create:
            skeleton_id = self._skeleton_ids[skeleton] = len(self._skeletons)
            self._skeletons.append(skeleton)
            self._skeleton_postings.append(array("I"))
            self._skeleton_neighbours = None
        return skeleton_id

    def add(self, features: PersonFeatures, record: int) -> None:
        if record != len(self._birth):
            raise ValueError("records must be added in order")
        skeleton_ids: set[int] = set()
        for flags, names in ((0, features.names), (_ALIAS, features.aliases)):
            for name in names:
                for token in name.tokens:
                    token_id = self._token_id(token)
                    self._name_tokens.append(token_id << 2 | token.relation)
                    if not flags:
                        skeleton_ids.add(self._token_skeleton[token_id])
                self._name_starts.append(len(self._name_tokens))
                self._name_flags.append(flags | (_ARABIC if name.arabic else 0))
        self._record_names.append(len(self._name_flags))
        for skeleton_id in skeleton_ids:
            self._skeleton_postings[skeleton_id].append(record)
        for a, b in combinations(sorted(skeleton_ids), 2):
            self._pair_postings.add(a << _PAIR_SHIFT | b, record)
        for document in features.documents:
            self._document_postings.add(hash(document), record)
        birth = features.birth_date
        self._birth.append(birth[0] * 10_000 + birth[1] * 100 + birth[2] if birth else 0)
        self._gender.append(_GENDERS.index(features.gender) if features.gender in _GENDERS else 0)
        country_id = self._country_ids.get(features.nationality)
        if country_id is None:
            country_id = self._country_ids[features.nationality] = len(self._countries)
            self._countries.append(features.nationality)
        self._nationality.append(country_id)

    # ---- reading back -----------------------------------------------------------------------

    def features(self, record: int) -> PersonFeatures:
        names: list[ParsedName] = []
        aliases: list[ParsedName] = []
        for name in range(self._record_names[record], self._record_names[record + 1]):
            codes = self._name_tokens[self._name_starts[name] : self._name_starts[name + 1]]
            parsed = ParsedName(tuple(self._token_variant(code) for code in codes), bool(self._name_flags[name] & _ARABIC))
            (aliases if self._name_flags[name] & _ALIAS else names).append(parsed)
        birth = self._birth[record]
        return PersonFeatures(
            names=tuple(names),
            aliases=tuple(aliases),
            birth_date=(birth // 10_000, birth // 100 % 100, birth % 100) if birth else None,
            gender=_GENDERS[self._gender[record]],
            nationality=self._countries[self._nationality[record]],
        )

    def _token_variant(self, code: int) -> NameToken:
        token = self._token_variants.get(code)
        if token is None:
            bare = self._tokens[code >> 2]
            token = NameToken(bare.key, bare.skeleton, bare.latin, code & 3, bare.family)
            self._token_variants[code] = token
        return token

    def birth_year(self, record: int) -> int:
        return self._birth[record] // 10_000

    # ---- candidate generation ---------------------------------------------------------------

    def records_with_documents(self, documents: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for document in documents:
            found.update(records_of(self._document_postings.get(hash(document))))
        return found

    def _query_skeleton_ids(self, token: NameToken) -> set[int]:
        skeleton = blocking_skeleton(token)
        skeleton_id = self._skeleton_ids.get(skeleton)
        if skeleton_id is not None:
            return {skeleton_id}
        near = set(self._neighbours().get(skeleton, ())) | {
            i for d in _deletions(skeleton) if (i := self._skeleton_ids.get(d)) is not None
        } | {i for d in _deletions(skeleton) for i in self._neighbours().get(d, ())}
        if len(near) > MAX_TYPO_ALTERNATIVES:
            near = set(sorted(near, key=lambda i: -len(self._skeleton_postings[i]))[:MAX_TYPO_ALTERNATIVES])
        return near

    def _neighbours(self) -> dict[str, list[int]]:
        if self._skeleton_neighbours is None:
            neighbours: dict[str, list[int]] = {}
            for skeleton, skeleton_id in self._skeleton_ids.items():
                if len(skeleton) >= 3 and not skeleton.startswith("_"):
                    for deletion in _deletions(skeleton):
                        neighbours.setdefault(deletion, []).append(skeleton_id)
            self._skeleton_neighbours = neighbours
        return self._skeleton_neighbours

    def candidates(self, features: PersonFeatures) -> tuple[list[int], int, set[int]]:
        """Records worth scoring, the size of the population sharing the name, and query skeleton ids."""
        pair_lists: dict[int, Posting] = {}
        single_lists: dict[int, array] = {}
        query_skeletons: set[int] = set()
        for name in features.names + features.aliases:
            alternatives = [self._query_skeleton_ids(token) for token in name.tokens]
            for ids in alternatives:
                query_skeletons |= ids
                for skeleton_id in ids:
                    single_lists[skeleton_id] = self._skeleton_postings[skeleton_id]
            for left, right in combinations(alternatives, 2):
                for a in left:
                    for b in right:
                        key = min(a, b) << _PAIR_SHIFT | max(a, b)
                        posting = self._pair_postings.get(key)
                        if posting is not None:
                            pair_lists[key] = posting
        ordered_pairs = sorted(pair_lists.values(), key=size_of)
        population = size_of(ordered_pairs[0]) if ordered_pairs else min(map(len, single_lists.values()), default=0)
        rare = max(MIN_RARE_SINGLE_POSTING, min(RARE_SINGLE_POSTING, len(self) // 1_000))
        sources = ordered_pairs + sorted((p for p in single_lists.values() if len(p) <= rare), key=len)
        if not ordered_pairs and not any(len(p) <= rare for p in single_lists.values()):
            sources = sorted(single_lists.values(), key=len)[:1]
        found: set[int] = set()
        for posting in sources:
            if len(found) + size_of(posting) <= CANDIDATE_BUDGET:
                found.update(records_of(posting))
            elif not found:
                found = self._narrowed(posting, ordered_pairs[1:], features)
                break
        return list(found), population, query_skeletons

    def _narrowed(self, posting: Posting, other_pairs: list[Posting], features: PersonFeatures) -> set[int]:
        found = set(records_of(posting))
        for other in other_pairs:
            narrower = found.intersection(records_of(other))
            if narrower:
                found = narrower
            if len(found) <= CANDIDATE_BUDGET:
                return found
        if features.birth_date:
            year = features.birth_date[0]
            near = {r for r in found if abs(self._birth[r] // 10_000 - year) <= 1}
            if near:
                found = near
        if len(found) > CANDIDATE_BUDGET:
            found = set(sorted(found)[:CANDIDATE_BUDGET])
        return found

    def prescore(self, record: int, query_skeletons: set[int]) -> int:
        codes = self._name_tokens[self._name_starts[self._record_names[record]] : self._name_starts[self._record_names[record + 1]]]
        skeletons = {self._token_skeleton[code >> 2] for code in codes}
        return len(skeletons & query_skeletons) * 4 - len(skeletons - query_skeletons)
