"""Person-name parsing: any script in, comparable tokens out.

A name becomes tokens carrying a canonical key (variant family or phonetic fold), a consonant
skeleton for cross-script retrieval, and the kinship particle that bound it (son/daughter of).
"""

from dataclasses import dataclass
from functools import lru_cache
import re
import unicodedata

from services.enrichment.domain.normalise import name_variants as data
from services.enrichment.domain.normalise.arabic import fold_arabic, has_arabic, transliterate
from services.enrichment.domain.normalise.phonetics import phonetic_fold, skeleton
from services.enrichment.domain.normalise.text import fold

NO_RELATION, SON_OF, DAUGHTER_OF = 0, 1, 2
RELATION_WORDS = {NO_RELATION: "", SON_OF: "ould", DAUGHTER_OF: "mint"}


@dataclass(frozen=True, slots=True)
class NameToken:
    key: str
    skeleton: str
    latin: str
    relation: int = NO_RELATION
    family: bool = False


@dataclass(frozen=True, slots=True)
class ParsedName:
    tokens: tuple[NameToken, ...]
    arabic: bool

    @property
    def key(self) -> str:
        return " ".join(_token_text(token) for token in self.tokens)


def _token_text(token: NameToken) -> str:
    word = RELATION_WORDS[token.relation]
    return f"{word} {token.key}" if word else token.key


def _family_tables() -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    def load(text: str) -> tuple[dict[str, str], dict[str, str]]:
        latin: dict[str, str] = {}
        arabic: dict[str, str] = {}
        for line in text.strip().splitlines():
            canonical, _, rest = line.partition(":")
            latin_part, _, arabic_part = rest.partition("|")
            canonical = canonical.strip()
            for variant in [canonical, *latin_part.split()]:
                latin.setdefault(phonetic_fold(fold(variant)), canonical)
            for variant in arabic_part.split():
                arabic.setdefault(fold_arabic(variant), canonical)
        return latin, arabic

    names_latin, names_arabic = load(data.GIVEN_AND_FAMILY_NAMES)
    roots_latin, roots_arabic = load(data.COMPOUND_ROOTS)
    return names_latin, names_arabic, roots_latin, roots_arabic


FAMILY_LATIN, FAMILY_ARABIC, ROOT_LATIN, ROOT_ARABIC = _family_tables()
_KNOWN_ROOTS = frozenset(ROOT_LATIN.values())
_TITLES_LATIN = frozenset(data.TITLES_LATIN)
_TITLES_ARABIC = frozenset(fold_arabic(t) for t in data.TITLES_ARABIC)
_SON_LATIN, _DAUGHTER_LATIN = frozenset(data.SON_OF_LATIN), frozenset(data.DAUGHTER_OF_LATIN)
_SON_ARABIC = frozenset(fold_arabic(t) for t in data.SON_OF_ARABIC)
_DAUGHTER_ARABIC = frozenset(fold_arabic(t) for t in data.DAUGHTER_OF_ARABIC)
_ARTICLES_LATIN = frozenset(data.ARTICLES_LATIN)
_ABD_LATIN = frozenset({"abd", "abdel", "abdal", "abdul", "abdoul", "abdou", "abdu", "abdel", "abdar", "abder", "abdur", "abdour", "abdes", "abdas", "abdus", "abdoun", "abden", "abdech"})
_ABU_LATIN = frozenset({"abou", "abu", "abo", "bou"})
_ATTACHED_ABD = re.compile(r"^abd(?:ou|u|o|e|a|i)?(?:l(?=[^l])|(?=([rsntzdc])\1))?-?(?P<root>.{3,})$")
_ATTACHED_ARTICLE = re.compile(r"^(?:el|al|ul)-?(?P<rest>.{3,})$")
_LATIN_SPLIT = re.compile(r"[\s\-_/.,;:()\"]+")
_APOSTROPHES = re.compile(r"['’‘`´ʼʻ]")
_ALL_CAPS = re.compile(r"^[^a-z]*[A-Z][^a-z]*$")


@lru_cache(maxsize=4_096)
def parse_name(text: str) -> ParsedName:
    """Parses one written form of a person name (Latin or Arabic script)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if has_arabic(text):
        return ParsedName(_arabic_tokens(text), arabic=True)
    return ParsedName(_latin_tokens(text), arabic=False)


def name_key(text: str) -> str:
    return parse_name(text).key


# ---- Latin script ----------------------------------------------------------------------------

def _surname_first_reordered(text: str) -> list[str]:
    if "," in text:
        surname, _, given = text.partition(",")
        text = f"{given} {surname}"
        return [w for w in re.split(r"\s+", text.strip()) if w]
    words = [w for w in re.split(r"\s+", text) if w]
    caps = [bool(_ALL_CAPS.match(w)) and sum(c.isalpha() for c in w) >= 2 for w in words]
    if any(caps) and not all(caps) and caps[0]:
        cut = caps.index(False)
        if all(not c for c in caps[cut:]):
            return words[cut:] + words[:cut]
    return words


def _latin_words(text: str) -> list[str]:
    words: list[str] = []
    for word in _surname_first_reordered(text):
        words.extend(_folded_parts(word))
    return words


@lru_cache(maxsize=16_384)
def _folded_parts(word: str) -> tuple[str, ...]:
    return tuple(w for w in _LATIN_SPLIT.split(fold(_APOSTROPHES.sub("", word))) if w)


def _latin_tokens(text: str) -> tuple[NameToken, ...]:
    words = _drop_latin_titles(_latin_words(text))
    tokens: list[NameToken] = []
    relation = NO_RELATION
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and word in _SON_LATIN and not (word in {"ben", "o"} and _is_last_word(words, index)):
            relation = SON_OF
        elif following is not None and word in _DAUGHTER_LATIN:
            relation = DAUGHTER_OF
        elif following is not None and word in _ARTICLES_LATIN:
            pass
        elif following is not None and word in _ABD_LATIN and (word != "abdou" or _is_compound_root(following, words, index)):
            root_words = [following]
            if following in _ARTICLES_LATIN and index + 2 < len(words):
                root_words.append(words[index + 2])
            index += len(root_words)
            tokens.append(_abd_token(root_words[-1], relation))
            relation = NO_RELATION
        elif following is not None and word in _ABU_LATIN and word != "bou" and _is_compound_root(following, words, index):
            index += 1
            tokens.append(_abu_token(following, relation))
            relation = NO_RELATION
        else:
            tokens.append(_latin_token(word, relation))
            relation = NO_RELATION
        index += 1
    return tuple(tokens)


def _is_last_word(words: list[str], index: int) -> bool:
    return index == len(words) - 1


def _is_compound_root(word: str, words: list[str], index: int) -> bool:
    folded = phonetic_fold(word)
    if word in _ARTICLES_LATIN:
        return True
    return folded in ROOT_LATIN or (folded not in FAMILY_LATIN and len(words) - index > 2)


def _drop_latin_titles(words: list[str]) -> list[str]:
    def substantive(rest: list[str]) -> int:
        return sum(1 for w in rest if w not in _SON_LATIN and w not in _DAUGHTER_LATIN and w not in _ARTICLES_LATIN)

    while words:
        if len(words) > 2 and (words[0], words[1]) in data.TITLE_PAIRS_LATIN and substantive(words[2:]) >= 2:
            words = words[2:]
        elif words[0] in _TITLES_LATIN and substantive(words[1:]) >= 2:
            words = words[1:]
        else:
            break
    return words


@lru_cache(maxsize=16_384)
def _latin_token(word: str, relation: int) -> NameToken:
    folded = phonetic_fold(word)
    family = FAMILY_LATIN.get(folded)
    if family is None:
        attached = _ATTACHED_ABD.match(word)
        if attached and len(word) > 5:
            root = attached.group("root")
            if phonetic_fold(root) in ROOT_LATIN:
                return _abd_token(root, relation)
        article = _ATTACHED_ARTICLE.match(word)
        if article and phonetic_fold(article.group("rest")) in FAMILY_LATIN:
            family = FAMILY_LATIN[phonetic_fold(article.group("rest"))]
    if family is not None:
        return NameToken(family, skeleton(family), word, relation, True)
    return NameToken(folded, skeleton(word), word, relation, False)


def _abd_token(root: str, relation: int) -> NameToken:
    root_key = ROOT_LATIN.get(phonetic_fold(root), phonetic_fold(root))
    return _compound("abd", root_key, relation)


def _abu_token(root: str, relation: int) -> NameToken:
    root_key = ROOT_LATIN.get(phonetic_fold(root), phonetic_fold(root))
    return _compound("abu", root_key, relation)


def _compound(head: str, root_key: str, relation: int) -> NameToken:
    key = f"{head}{'el' if head == 'abd' and root_key[0] not in 'aeiou' else ''}{root_key}"
    family = FAMILY_LATIN.get(phonetic_fold(key))
    if family is not None:
        return NameToken(family, skeleton(family), key, relation, True)
    return NameToken(key, skeleton(key), key, relation, root_key in _KNOWN_ROOTS)


# ---- Arabic script ---------------------------------------------------------------------------

def _arabic_tokens(text: str) -> tuple[NameToken, ...]:
    words = [fold_arabic(w) for w in re.split(r"[\s\-_/.,;:()\"،]+", text) if w]
    words = [w for w in words if w]
    while len(words) > 2 and words[0] in _TITLES_ARABIC:
        words = words[1:]
    tokens: list[NameToken] = []
    relation = NO_RELATION
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and word in _SON_ARABIC:
            relation = SON_OF
        elif following is not None and word in _DAUGHTER_ARABIC:
            relation = DAUGHTER_OF
        elif word == "ال" and following is not None:
            pass
        elif following is not None and word == "عبد":
            index += 1
            tokens.append(_arabic_compound("abd", following, relation))
            relation = NO_RELATION
        elif following is not None and word == "ابو" and _arabic_root(following) is not None:
            index += 1
            tokens.append(_arabic_compound("abu", following, relation))
            relation = NO_RELATION
        else:
            tokens.append(_arabic_token(word, relation))
            relation = NO_RELATION
        index += 1
    return tuple(tokens)


def _without_article(word: str) -> str:
    return word[2:] if word.startswith("ال") and len(word) > 3 else word


def _arabic_root(word: str) -> str | None:
    return ROOT_ARABIC.get(word) or ROOT_ARABIC.get(_without_article(word))


def _arabic_compound(head: str, word: str, relation: int) -> NameToken:
    root = _arabic_root(word) or phonetic_fold(transliterate(_without_article(word)))
    return _compound(head, root, relation)


@lru_cache(maxsize=16_384)
def _arabic_token(word: str, relation: int) -> NameToken:
    family = FAMILY_ARABIC.get(word) or FAMILY_ARABIC.get(_without_article(word))
    if family is None and word.startswith("عبد") and len(word) > 4:
        return _arabic_compound("abd", word[3:], relation)
    if family is None and word.startswith("ابو") and len(word) > 4 and _arabic_root(word[3:]):
        return _arabic_compound("abu", word[3:], relation)
    latin = transliterate(word)
    if family is not None:
        return NameToken(family, skeleton(family), latin, relation, True)
    bare = transliterate(_without_article(word))
    return NameToken(phonetic_fold(bare), skeleton(bare), latin, relation, False)
