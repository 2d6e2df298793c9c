"""Ed25519 signatures of broker messages: the signed bytes, signing and verifying. Pure (no broker, no I/O).

What is signed (version 1) is the compact JSON array

    ["pcms-sig/1", key_id, signed_at, message_id, type, correlation_id, contract_version, sha256(body) hex]

so that changing the body, the message id (dedup), the wire type (which parser and handler), the
correlation, the contract version (how the body is read), the signing time (freshness) or the key
id breaks the signature. Routing properties (exchange, routing key, user_id, priority) are not
signed: they change legitimately on the way (the hub forwards, a retry comes back from a delay
queue) and are checked separately (user_id against the signer, queue against the trust rule).
"""

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.contracts.versioning import VERSION_HEADER as CONTRACT_VERSION_HEADER

SIGNATURE_VERSION = "pcms-sig/1"
KEY_ID_HEADER = "x-pcms-key-id"
SIGNATURE_HEADER = "x-pcms-signature"
SIGNED_AT_HEADER = "x-pcms-signed-at"
SIGNATURE_HEADERS = (KEY_ID_HEADER, SIGNATURE_HEADER, SIGNED_AT_HEADER)
KEY_ID_PATTERN = r"^[A-Z]{2,5}-\d{8}-[0-9a-f]{4,8}$"


def header_text(value: Any) -> str:
    """An AMQP header value as text (the broker may hand strings back as bytes)."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def signed_bytes(*, key_id: str, signed_at: str, message_id: str | None, type: str | None,
                 correlation_id: str | None, contract_version: str | None, body: bytes) -> bytes:
    fields = [SIGNATURE_VERSION, key_id, signed_at, message_id or "", type or "", correlation_id or "",
              contract_version or "", hashlib.sha256(body).hexdigest()]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def new_key_id(platform: str, today: datetime | None = None) -> str:
    return f"{platform}-{(today or datetime.now(UTC)):%Y%m%d}-{secrets.token_hex(2)}"


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public half as it travels in the keyring: base64 of the raw 32 bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class SigningKey:
    platform: str
    key_id: str
    private: Ed25519PrivateKey


class Signer:
    """Signs with one platform's current key; `key` may be a callable, to follow a rotated key file."""

    def __init__(self, key: SigningKey | Callable[[], SigningKey],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._key = key if callable(key) else (lambda: key)  # type: ignore[assignment]
        self._clock = clock

    @property
    def key(self) -> SigningKey:
        return self._key()  # type: ignore[operator]

    @property
    def platform(self) -> str:
        return self.key.platform

    def headers(self, *, message_id: str | None, type: str | None, correlation_id: str | None,
                contract_version: Any, body: bytes) -> dict[str, str]:
        """The three signature headers for a message with these properties and this body."""
        key = self.key
        signed_at = utc_text(self._clock())
        data = signed_bytes(key_id=key.key_id, signed_at=signed_at, message_id=message_id, type=type,
                            correlation_id=correlation_id, contract_version=header_text(contract_version) or None,
                            body=body)
        signature = base64.b64encode(key.private.sign(data)).decode("ascii")
        return {KEY_ID_HEADER: key.key_id, SIGNATURE_HEADER: signature, SIGNED_AT_HEADER: signed_at}

    def signed(self, headers: Mapping[str, Any], *, message_id: str | None, type: str | None,
               correlation_id: str | None, body: bytes) -> dict[str, Any]:
        """The headers with this signer's signature in place of any earlier one."""
        kept = {name: value for name, value in headers.items() if name not in SIGNATURE_HEADERS}
        return kept | self.headers(message_id=message_id, type=type, correlation_id=correlation_id,
                                   contract_version=kept.get(CONTRACT_VERSION_HEADER), body=body)


def signature_valid(public_key: Ed25519PublicKey, *, headers: Mapping[str, Any], message_id: str | None,
                    type: str | None, correlation_id: str | None, body: bytes) -> bool:
    """True when the signature headers verify with this public key over these properties and body."""
    try:
        signature = base64.b64decode(header_text(headers.get(SIGNATURE_HEADER)), validate=True)
    except (binascii.Error, ValueError):
        return False
    data = signed_bytes(key_id=header_text(headers.get(KEY_ID_HEADER)),
                        signed_at=header_text(headers.get(SIGNED_AT_HEADER)), message_id=message_id, type=type,
                        correlation_id=correlation_id,
                        contract_version=header_text(headers.get(CONTRACT_VERSION_HEADER)) or None, body=body)
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
