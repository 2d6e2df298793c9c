"""The keyring: every platform's public signing keys, distributed beside the federation file.

    keys:
      - {platform: MR, id: MR-20261129-a1b2, public_key: <base64 of the raw 32 bytes>, status: active}

A platform has one or more active keys (two while a rotation is under way); retired keys stay
listed so that what they signed is refused with a clear reason.
"""

from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from shared.security.signing import KEY_ID_PATTERN


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class VerificationKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    platform: str = Field(pattern=r"^[A-Z]{2,5}$")
    id: str = Field(pattern=KEY_ID_PATTERN)
    public_key: str = Field(min_length=40, max_length=64, description="base64 of the raw 32-byte Ed25519 public key")
    status: KeyStatus = KeyStatus.ACTIVE

    @property
    def is_active(self) -> bool:
        return self.status is KeyStatus.ACTIVE


class Keyring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: tuple[VerificationKey, ...] = ()


def load_keyring(path: Path) -> Keyring:
    """The keyring in this file; an absent file is an empty keyring (nothing verifies)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Keyring()
    return Keyring.model_validate(yaml.safe_load(text) or {})


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Written whole and swapped in, so that services rereading it never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(keyring.model_dump(mode="json"), sort_keys=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("# Public signing keys of the federation's platforms (pcms keys init|rotate|retire).\n" + body,
                   encoding="utf-8")
    tmp.replace(path)
