"""API tokens: `pcms_<token id>_<secret>`, shown once; only the SHA-256 of the secret is stored.

The secret has 256 bits of entropy, so a plain SHA-256 (no salt, no slow hash) is enough: there is
nothing to guess from a dictionary. The token id is public (it names the token in logs and security
events); the secret never leaves this module except in the text printed once to its owner.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "pcms_"
_TOKEN = re.compile(r"^pcms_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")


class MalformedToken(ValueError):
    pass


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    secret: str = ""

    @property
    def text(self) -> str:
        return f"{PREFIX}{self.token_id}_{self.secret}"

    @property
    def secret_sha256(self) -> str:
        return secret_sha256(self.secret)

    def __repr__(self) -> str:  # never the secret in a log or a traceback
        return f"IssuedToken(token_id={self.token_id!r})"


def new_token() -> IssuedToken:
    return IssuedToken(token_id=secrets.token_hex(6), secret=secrets.token_urlsafe(32))


def parse(text: str) -> IssuedToken:
    """The token id and secret of a presented token; MalformedToken says why not (without the secret)."""
    found = _TOKEN.match(text.strip())
    if found is None:
        raise MalformedToken("the bearer token is not a PCMS token (pcms_<id>_<secret>)")
    return IssuedToken(token_id=found["id"], secret=found["secret"])


def claimed_token_id(authorization: str | None) -> str | None:
    """The token id an Authorization header claims, unverified (for refusals before authentication)."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    found = _TOKEN.match(value.strip()) if scheme.lower() == "bearer" else None
    return found["id"] if found else None


def is_token_id(value: str) -> bool:
    return bool(_TOKEN_ID.match(value))


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(secret_sha256(secret), stored_sha256)
