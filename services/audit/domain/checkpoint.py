"""Signed checkpoints (signed tree heads) of the audit log.

The signed text follows the C2SP tlog-checkpoint layout, with the time as an
extension line:

    <log_id>
    <size>
    <base64 root>
    time <ISO-8601 UTC with microseconds>

and `to_signed_note` wraps it as a C2SP signed note
("— <log_id> <base64(key id || signature)>"). The key id is the first four
bytes of SHA-256 over the raw Ed25519 public key, not the C2SP key hash, so
the note is in that style but not byte-compatible with sumdb/note verifiers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.audit.domain.entry import canonical_time
from services.audit.domain.merkle import HASH_SIZE

SIGNATURE_SIZE = 64
_KEY_ID_HEX_LENGTH = 8
_NOTE_SIGNATURE_PREFIX = "\u2014 "


@dataclass(frozen=True, slots=True)
class Checkpoint:
    log_id: str
    size: int
    root: bytes
    at: datetime
    key_id: str
    signature: bytes

    def __post_init__(self) -> None:
        _check_log_id(self.log_id)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"checkpoint size must be a non-negative integer, got {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise ValueError(f"checkpoint root must be {HASH_SIZE} bytes")
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("checkpoint time must be timezone-aware")
        _check_key_id(self.key_id)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise ValueError(f"checkpoint signature must be {SIGNATURE_SIZE} bytes")

    @property
    def body(self) -> bytes:
        return checkpoint_body(self.log_id, self.size, self.root, self.at)


def checkpoint_body(log_id: str, size: int, root: bytes, at: datetime) -> bytes:
    """The exact bytes that are signed."""
    _check_log_id(log_id)
    root_text = base64.b64encode(root).decode("ascii")
    return f"{log_id}\n{size}\n{root_text}\ntime {canonical_time(at)}\n".encode()


def sign_checkpoint(
    log_id: str, size: int, root: bytes, at: datetime, private_key: Ed25519PrivateKey, key_id: str
) -> Checkpoint:
    signature = private_key.sign(checkpoint_body(log_id, size, root, at))
    return Checkpoint(log_id=log_id, size=size, root=root, at=at, key_id=key_id, signature=signature)


def verify_checkpoint(checkpoint: Checkpoint, public_keys: Mapping[str, Ed25519PublicKey]) -> bool:
    public_key = public_keys.get(checkpoint.key_id)
    if public_key is None or key_id(public_key) != checkpoint.key_id:
        return False
    try:
        public_key.verify(checkpoint.signature, checkpoint.body)
    except InvalidSignature:
        return False
    return True


def to_json_dict(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "log_id": checkpoint.log_id,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "at": canonical_time(checkpoint.at),
        "key_id": checkpoint.key_id,
        "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
    }


def from_json_dict(data: Mapping[str, Any]) -> Checkpoint:
    try:
        return Checkpoint(
            log_id=_require(data, "log_id", str),
            size=_require(data, "size", int),
            root=bytes.fromhex(_require(data, "root", str)),
            at=_parse_time(_require(data, "at", str)),
            key_id=_require(data, "key_id", str),
            signature=base64.b64decode(_require(data, "signature", str), validate=True),
        )
    except (binascii.Error, KeyError, TypeError) as error:
        raise ValueError(f"malformed checkpoint: {error}") from error


def to_signed_note(checkpoint: Checkpoint) -> str:
    stamp = base64.b64encode(bytes.fromhex(checkpoint.key_id) + checkpoint.signature).decode("ascii")
    return f"{checkpoint.body.decode()}\n{_NOTE_SIGNATURE_PREFIX}{checkpoint.log_id} {stamp}\n"


def from_signed_note(note: str) -> Checkpoint:
    body, separator, signature_block = note.partition("\n\n")
    lines = body.split("\n")
    signature_lines = signature_block.rstrip("\n").split("\n")
    if not separator or len(lines) != 4 or len(signature_lines) != 1:
        raise ValueError("malformed checkpoint note")
    log_id, size_text, root_text, time_line = lines
    name, _, stamp_text = signature_lines[0].removeprefix(_NOTE_SIGNATURE_PREFIX).partition(" ")
    if not signature_lines[0].startswith(_NOTE_SIGNATURE_PREFIX) or name != log_id:
        raise ValueError("checkpoint note signature line does not name its log")
    if not size_text.isdigit() or not time_line.startswith("time "):
        raise ValueError("malformed checkpoint note")
    try:
        stamp = base64.b64decode(stamp_text, validate=True)
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"malformed checkpoint note: {error}") from error
    checkpoint = Checkpoint(
        log_id=log_id,
        size=int(size_text),
        root=root,
        at=_parse_time(time_line.removeprefix("time ")),
        key_id=stamp[:4].hex(),
        signature=stamp[4:],
    )
    if checkpoint.body != (body + "\n").encode():
        raise ValueError("checkpoint note is not in canonical form")
    return checkpoint


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_key_to_raw(public_key)).hexdigest()[:_KEY_ID_HEX_LENGTH]


def public_key_to_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_from_raw(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_pem(private_key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_key_from_pem(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("PEM does not hold an Ed25519 private key")
    return key


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("PEM does not hold an Ed25519 public key")
    return key


def _check_log_id(log_id: str) -> None:
    if not isinstance(log_id, str) or not log_id or not log_id.isprintable() or any(c.isspace() for c in log_id):
        raise ValueError(f"log id must be non-empty printable text without whitespace, got {log_id!r}")


def _check_key_id(value: str) -> None:
    if not isinstance(value, str) or len(value) != _KEY_ID_HEX_LENGTH or not set(value) <= set("0123456789abcdef"):
        raise ValueError(f"key id must be {_KEY_ID_HEX_LENGTH} lowercase hex digits, got {value!r}")


def _parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("checkpoint time must carry a UTC offset")
    return at


def _require(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} must be {kind.__name__}")
    return value
