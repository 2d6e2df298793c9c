"""Ed25519 keys of the audit logs: the signing key of this platform's log, the public keys it trusts.

* Signing key: the PEM file named by PCMS_AUDIT_SIGNING_KEY_FILE (`{platform}` in the path is
  replaced by the platform code, so one setting can serve every process of a host). A named file
  that does not exist is an error. Without the setting (development), the key is
  .run/keys/audit-<platform>.pem, generated on first start with a warning, and its public key is
  written beside it as audit-<platform>.pub.pem (.run/ is gitignored).
* Trusted public keys: every *.pem public key in PCMS_AUDIT_TRUSTED_KEYS_DIR. A witness trusts
  those, plus the key it learned on first use when PCMS_AUDIT_TRUST_ON_FIRST_USE is on (the
  development default; turn it off and distribute the hub's public key in production).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.audit.domain.checkpoint import (
    key_id,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_pem,
    public_key_to_pem,
    public_key_to_raw,
)

log = structlog.get_logger("audit.keys")

DEFAULT_KEY_DIR = Path(".run/keys")


def log_id_for(platform: str) -> str:
    """The identity of a platform's audit log, as signed into its checkpoints."""
    return f"pcms.g5sahel/audit/{platform}"


@dataclass(frozen=True)
class Signer:
    log_id: str
    private_key: Ed25519PrivateKey
    key_id: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_raw(self) -> bytes:
        return public_key_to_raw(self.public_key)


def signer_from_key(log_id: str, private_key: Ed25519PrivateKey) -> Signer:
    return Signer(log_id, private_key, key_id(private_key.public_key()))


def signing_key_path(platform: str, configured: Path | None, key_dir: Path = DEFAULT_KEY_DIR) -> tuple[Path, bool]:
    """(path, whether it was configured explicitly)."""
    if configured is not None:
        return Path(str(configured).replace("{platform}", platform)), True
    return key_dir / f"audit-{platform.lower()}.pem", False


def load_signing_key(platform: str, configured: Path | None, key_dir: Path = DEFAULT_KEY_DIR) -> Ed25519PrivateKey:
    path, explicit = signing_key_path(platform, configured, key_dir)
    if path.exists():
        return private_key_from_pem(path.read_bytes())
    if explicit:
        raise FileNotFoundError(f"audit signing key {path} (PCMS_AUDIT_SIGNING_KEY_FILE) does not exist")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this platform won the race
        return private_key_from_pem(path.read_bytes())
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_key_to_pem(key))
    public_path = path.with_name(path.stem + ".pub.pem")
    public_path.write_bytes(public_key_to_pem(key.public_key()))
    log.warning("audit_signing_key_generated", path=str(path), public_key=str(public_path),
                key_id=key_id(key.public_key()),
                hint="development only: set PCMS_AUDIT_SIGNING_KEY_FILE to a managed key in production")
    return key


def load_trusted_keys(directory: Path | None) -> dict[str, Ed25519PublicKey]:
    if directory is None:
        return {}
    keys: dict[str, Ed25519PublicKey] = {}
    for path in sorted(Path(directory).glob("*.pem")):
        try:
            public = public_key_from_pem(path.read_bytes())
        except ValueError:
            continue  # a private key or something else: only public keys are trusted from here
        keys[key_id(public)] = public
    return keys
