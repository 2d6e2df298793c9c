"""Real Ed25519 keys for tests: a key per platform, the federation's keyring, signers and verifiers."""

from collections.abc import Iterable

from shared.federation import Federation
from shared.security.keyring import KeyStatus, VerificationKey
from shared.security.origin import MessageVerifier
from shared.security.signing import Signer, SigningKey, generate_private_key, new_key_id, public_key_text


def signing_key(code: str) -> SigningKey:
    return SigningKey(code, new_key_id(code), generate_private_key())


def listed(key: SigningKey, status: KeyStatus = KeyStatus.ACTIVE) -> VerificationKey:
    return VerificationKey(platform=key.platform, id=key.key_id, public_key=public_key_text(key.private), status=status)


class TestKeys:
    """One signing key per platform of the federation, and the federation with their public keys."""

    __test__ = False

    def __init__(self, federation: Federation, codes: Iterable[str] | None = None) -> None:
        self.keys = {code: signing_key(code) for code in (codes or [p.code for p in federation.platforms])}
        self.federation = federation.model_copy(update={"keys": tuple(listed(k) for k in self.keys.values())})

    def signer(self, code: str) -> Signer:
        return Signer(self.keys[code])

    def verifier(self, own_user: str | None) -> MessageVerifier:
        return MessageVerifier(lambda: self.federation, own_user=own_user)
