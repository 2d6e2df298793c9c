"""Signing keys on disk: each platform's private key in the secrets directory, public keys in the keyring.

    <secrets_dir>/signing/<CODE>.pem      PKCS8 Ed25519 private key (0600) - the key the platform signs with now
    <secrets_dir>/signing/<CODE>.key-id   its key id (e.g. MR-20261129-a1b2)
    <secrets_dir>/signing/<CODE>.<id>.pem earlier keys, kept after a rotation

Used by `pcms keys`, `pcms run` and the test and bench launchers (ensure_signing_keys), and by
every service at start (load_signer).
"""

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from shared.federation import Federation, keyring_path, load_federation
from shared.security.keyring import Keyring, KeyStatus, VerificationKey, load_keyring, write_keyring
from shared.security.signing import (
    Signer,
    SigningKey,
    generate_private_key,
    load_private_key_pem,
    new_key_id,
    private_key_pem,
    public_key_text,
)

DEFAULT_KEYRING_NAME = "keyring.yaml"


class SigningKeyMissing(RuntimeError):
    pass


def signing_dir(secrets_dir: Path) -> Path:
    return Path(secrets_dir) / "signing"


def key_paths(secrets_dir: Path, code: str) -> tuple[Path, Path]:
    folder = signing_dir(secrets_dir)
    return folder / f"{code}.pem", folder / f"{code}.key-id"


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def read_signing_key(secrets_dir: Path, code: str) -> SigningKey | None:
    pem, key_id = key_paths(secrets_dir, code)
    if not pem.exists() or not key_id.exists():
        return None
    return SigningKey(code, key_id.read_text(encoding="utf-8").strip(), load_private_key_pem(pem.read_bytes()))


def _install(secrets_dir: Path, code: str) -> SigningKey:
    """A new key becomes the platform's current one (the previous one is kept beside it)."""
    current = read_signing_key(secrets_dir, code)
    pem, key_id_file = key_paths(secrets_dir, code)
    if current is not None:
        _write_secret(pem.with_name(f"{code}.{current.key_id}.pem"), pem.read_bytes())
    private = generate_private_key()
    key = SigningKey(code, new_key_id(code, datetime.now(UTC)), private)
    _write_secret(pem, private_key_pem(private))
    _write_secret(key_id_file, (key.key_id + "\n").encode())  # written last: a reader takes the pair when the id changes
    return key


def federation_keyring(federation_file: Path) -> Path:
    """The federation's keyring file; a federation that names none is given keyring.yaml beside it."""
    federation_file = Path(federation_file)
    found = keyring_path(federation_file)
    if found is not None:
        return found
    lines = federation_file.read_text(encoding="utf-8").rstrip("\n").splitlines()
    data = yaml.safe_load("\n".join(lines)) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{federation_file} is not a federation")
    lines.append(f"keyring: {DEFAULT_KEYRING_NAME}")
    tmp = federation_file.with_name(federation_file.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(federation_file)
    return federation_file.resolve().parent / DEFAULT_KEYRING_NAME


def _with(keyring: Keyring, entry: VerificationKey) -> Keyring:
    kept = [k for k in keyring.keys if k.id != entry.id]
    return Keyring(keys=(*kept, entry))


def ensure_signing_keys(federation_file: Path, secrets_dir: Path, platforms: list[str] | None = None) -> list[str]:
    """Every connected platform (or those named) has a private key, and its public key is active in the keyring.

    Idempotent; returns the key ids it created. The test and bench launchers call it before starting services.
    """
    federation_file = Path(federation_file)
    keyring_file = federation_keyring(federation_file)
    federation = load_federation(federation_file)
    keyring = load_keyring(keyring_file)
    created: list[str] = []
    codes = platforms or [p.code for p in federation.connected_platforms]
    for code in codes:
        federation.get(code)
        key = read_signing_key(secrets_dir, code)
        if key is None:
            key = _install(secrets_dir, code)
            created.append(key.key_id)
        listed = next((k for k in keyring.keys if k.id == key.key_id), None)
        if listed is None or not listed.is_active:
            keyring = _with(keyring, VerificationKey(platform=code, id=key.key_id,
                                                     public_key=public_key_text(key.private)))
    if keyring != load_keyring(keyring_file) or not keyring_file.exists():
        write_keyring(keyring_file, keyring)
    return created


def rotate_key(federation_file: Path, secrets_dir: Path, code: str) -> tuple[str | None, str]:
    """A new key, active beside the old one; the platform's services sign with it from now on.

    The keyring is written before the private key is switched, so verifiers know the new key first.
    Returns (old key id, new key id). Retire the old one once what it signed has been consumed.
    """
    federation_file = Path(federation_file)
    keyring_file = federation_keyring(federation_file)
    load_federation(federation_file).get(code)
    old = read_signing_key(secrets_dir, code)
    private = generate_private_key()
    new = SigningKey(code, new_key_id(code), private)
    keyring = _with(load_keyring(keyring_file), VerificationKey(platform=code, id=new.key_id,
                                                                public_key=public_key_text(private)))
    write_keyring(keyring_file, keyring)
    pem, key_id_file = key_paths(secrets_dir, code)
    if old is not None:
        _write_secret(pem.with_name(f"{code}.{old.key_id}.pem"), pem.read_bytes())
    _write_secret(pem, private_key_pem(private))
    _write_secret(key_id_file, (new.key_id + "\n").encode())
    return (old.key_id if old else None), new.key_id


def retire_key(federation_file: Path, secrets_dir: Path | None, code: str, key_id: str) -> None:
    """What this key signed is refused from now on. The key a platform signs with now cannot be retired."""
    keyring_file = federation_keyring(Path(federation_file))
    keyring = load_keyring(keyring_file)
    entry = next((k for k in keyring.keys if k.id == key_id and k.platform == code), None)
    if entry is None:
        raise KeyError(f"{key_id} is not a key of {code} in {keyring_file}")
    current = read_signing_key(secrets_dir, code) if secrets_dir is not None else None
    if current is not None and current.key_id == key_id:
        raise ValueError(f"{key_id} is the key {code} signs with now: rotate first (pcms keys rotate --platform {code})")
    others = [k for k in keyring.keys if k.platform == code and k.is_active and k.id != key_id]
    if not others:
        raise ValueError(f"{key_id} is the last active key of {code}: rotate first")
    write_keyring(keyring_file, _with(keyring, entry.model_copy(update={"status": KeyStatus.RETIRED})))


class KeyFile:
    """The platform's current signing key, reread (at most once a second) when its key id file changes."""

    def __init__(self, secrets_dir: Path, code: str, *, every_seconds: float = 1.0) -> None:
        self._secrets_dir, self._code, self._every = Path(secrets_dir), code, every_seconds
        self._id_file = key_paths(self._secrets_dir, code)[1]
        key = read_signing_key(self._secrets_dir, code)
        if key is None:
            pem, key_id = key_paths(self._secrets_dir, code)
            raise SigningKeyMissing(
                f"no signing key for platform {code}: expected {pem} and {key_id}. Every service signs what it "
                "publishes; create the keys with `pcms keys init --secrets-dir DIR` and set PCMS_SECRETS_DIR=DIR.")
        self._key = key
        self._stamp = self._id_file.stat().st_mtime_ns
        self._checked = time.monotonic()

    def __call__(self) -> SigningKey:
        now = time.monotonic()
        if now - self._checked >= self._every:
            self._checked = now
            try:
                stamp = self._id_file.stat().st_mtime_ns
                if stamp != self._stamp:
                    key = read_signing_key(self._secrets_dir, self._code)
                    if key is not None:
                        self._key, self._stamp = key, stamp
            except (OSError, ValueError):
                pass  # mid-rotation or unreadable: keep signing with the key we have
        return self._key


def load_signer(secrets_dir: Path | None, code: str, federation: Federation | None = None) -> Signer:
    """The signer of a platform's services; refuses (SigningKeyMissing) without the key, or a key the keyring does not list."""
    if secrets_dir is None:
        raise SigningKeyMissing(
            f"no secrets directory: every service signs what it publishes with its platform's key "
            f"(<secrets_dir>/signing/{code}.pem); set PCMS_SECRETS_DIR (keys are made by `pcms keys init`).")
    key_file = KeyFile(Path(secrets_dir), code)
    if federation is not None:
        key = key_file()
        listed = federation.verification_key(key.key_id)
        if listed is None or not listed.is_active or listed.platform != code:
            raise SigningKeyMissing(
                f"the signing key of {code} ({key.key_id}) is not an active key of {code} in the federation's keyring"
                f"{' (' + federation.keyring + ')' if federation.keyring else ' (the federation names no keyring)'}: "
                "nobody could verify what this service signs. Run `pcms keys init` or distribute the keyring.")
    return Signer(key_file)
