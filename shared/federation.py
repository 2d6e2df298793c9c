"""The federation as data: who is the hub, who are the members, and their status."""

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.security.keyring import VerificationKey, load_keyring

DEFAULT_FEDERATION_FILE = Path(__file__).resolve().parent.parent / "deploy" / "federation.yaml"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class Platform(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z]{2,5}$")
    role: Literal["hub", "member"]
    name: str
    city: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    status: MemberStatus
    api_port: int = Field(ge=1, le=65535)

    @property
    def is_active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


class Federation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    platforms: tuple[Platform, ...]
    broker_user_prefix: str = Field(
        default="pcms-", pattern=r"^[a-z0-9][a-z0-9-]*-$",
        description="RabbitMQ user names are this prefix plus a platform code in lower case (pcms-mr), or a role.",
    )
    keyring: str | None = Field(
        default=None, description="File of the platforms' public signing keys, relative to the federation file.",
    )
    keys: tuple[VerificationKey, ...] = Field(
        default=(), exclude=True, description="The public signing keys, as read from the keyring when loaded.",
    )

    @model_validator(mode="after")
    def _one_hub_unique_codes(self) -> "Federation":
        codes = [p.code for p in self.platforms]
        if len(set(codes)) != len(codes):
            raise ValueError("platform codes must be unique")
        if [p.role for p in self.platforms].count("hub") != 1:
            raise ValueError("the federation has exactly one hub")
        if "ALL" in codes:
            raise ValueError("ALL is reserved for addressing")
        return self

    @property
    def hub(self) -> Platform:
        return next(p for p in self.platforms if p.role == "hub")

    @property
    def members(self) -> tuple[Platform, ...]:
        return tuple(p for p in self.platforms if p.role == "member")

    @property
    def active_members(self) -> tuple[Platform, ...]:
        return tuple(p for p in self.members if p.is_active)

    @property
    def active_platforms(self) -> tuple[Platform, ...]:
        """Active members and the hub: everything that runs services."""
        return tuple(p for p in self.platforms if p.is_active)

    @property
    def connected_platforms(self) -> tuple[Platform, ...]:
        """Everything but withdrawn members: a suspended member keeps its queues, where its traffic is held."""
        return tuple(p for p in self.platforms if p.status is not MemberStatus.WITHDRAWN)

    def get(self, code: str) -> Platform:
        for platform in self.platforms:
            if platform.code == code:
                return platform
        raise KeyError(f"unknown platform {code!r}; known: {', '.join(p.code for p in self.platforms)}")

    def knows(self, code: str) -> bool:
        return any(p.code == code for p in self.platforms)

    def broker_user(self, code: str) -> str:
        """The RabbitMQ user a platform's services connect as; the AMQP user_id of everything they publish."""
        return f"{self.broker_user_prefix}{code.lower()}"

    @property
    def hub_audit_broker_user(self) -> str:
        """The hub's audit log reads every platform's audit events, so it has a user of its own."""
        return f"{self.broker_user_prefix}hub-audit"

    @property
    def operator_broker_user(self) -> str:
        """Operators watch queues in the management UI and cannot read message bodies."""
        return f"{self.broker_user_prefix}operator"

    def service_broker_user(self, service: str, code: str) -> str:
        return self.hub_audit_broker_user if (service, code) == ("audit", self.hub.code) else self.broker_user(code)

    def broker_users_of(self, code: str) -> frozenset[str]:
        """The users a platform's services publish as (the hub's audit has a user of its own)."""
        users = {self.broker_user(code)}
        if code == self.hub.code:
            users.add(self.hub_audit_broker_user)
        return frozenset(users)

    def verification_keys(self, code: str) -> tuple[VerificationKey, ...]:
        """The platform's public signing keys, active and retired, from the keyring."""
        return tuple(key for key in self.keys if key.platform == code)

    def verification_key(self, key_id: str) -> VerificationKey | None:
        return next((key for key in self.keys if key.id == key_id), None)


def load_federation(path: Path | str = DEFAULT_FEDERATION_FILE) -> Federation:
    """The federation, with the public keys of its keyring file (none if that file is absent)."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    keyring = keyring_path(Path(path), data)
    if keyring is not None:
        data = {**data, "keys": load_keyring(keyring).keys}
    return Federation.model_validate(data)


def keyring_path(federation_file: Path, data: dict | Federation | None = None) -> Path | None:
    """Where the federation's keyring is, if it names one (relative to the federation file)."""
    if data is None:
        with open(federation_file, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    name = data.keyring if isinstance(data, Federation) else (data or {}).get("keyring")
    return federation_file.resolve().parent / name if name else None


class FederationFile:
    """The federation as its file (and its keyring) say now: reread when either changes (membership and keys are data)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._current = load_federation(self.path)
        self._stamp = self._stat()

    def current(self) -> Federation:
        return self._current

    def refresh(self) -> bool:
        """True when the file changed and now says something else."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp  # taken before reading: a change made while reading is seen next time
        updated = load_federation(self.path)
        changed, self._current = updated != self._current, updated
        return changed

    def _stat(self) -> tuple[int, int, int, int]:
        info = self.path.stat()
        keyring = keyring_path(self.path, self._current)
        try:
            keys = keyring.stat() if keyring is not None else None
        except FileNotFoundError:
            keys = None
        return info.st_mtime_ns, info.st_size, keys.st_mtime_ns if keys else 0, keys.st_size if keys else 0
