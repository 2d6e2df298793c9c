"""Key vocabulary: exact identifier keys (one shared key is a hit) versus blocking keys (candidates only)."""

EXACT_KEY_PREFIXES: tuple[str, ...] = ("doc:", "phone:", "vin:", "plate:", "firearm:serial:")
BLOCKING_KEY_PREFIXES: tuple[str, ...] = (
    "name:", "alias:", "nametok:", "skel:", "docnum:", "phonedigits:", "platenum:", "org:", "orgtok:", "place:", "geo:",
)
UNKNOWN_COUNTRY = "XX"
MAX_KEY_LENGTH = 200


def is_identifier_key(key: str) -> bool:
    return key.startswith(EXACT_KEY_PREFIXES)


def make_key(kind: str, *parts: str) -> str:
    return ":".join((kind, *parts))[:MAX_KEY_LENGTH]
