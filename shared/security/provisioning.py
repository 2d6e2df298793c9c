"""Broker users and permissions, provisioned through the RabbitMQ management HTTP API; and the definitions file.

Idempotent: every run creates or updates the users the federation needs (passwords from the
secrets directory, generated when missing), sets their permissions and topic permissions, deletes
the users of withdrawn members and closes their connections, then declares the topology as the
provisioner. `definitions()` renders the same users, permissions and topology as a RabbitMQ
definitions document (what docker compose loads at boot).
"""

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx
import structlog
from pydantic import SecretStr

from shared.federation import Federation, MemberStatus
from shared.messaging.topology import Topology, federation_topology, queue_arguments
from shared.security.broker_access import BrokerUser, Permission, TopicPermission, broker_users, provisioner_user
from shared.security.broker_credentials import ensure_password, password_path, read_password, vhost_of, with_credentials

log = structlog.get_logger("provisioning")

DEVELOPMENT_ADMIN = ("guest", SecretStr("guest"))  # the local broker's default user: development only


@dataclass(frozen=True)
class ManagementAccess:
    url: str
    user: str
    password: SecretStr


class BrokerAdmin(Protocol):
    def ensure_vhost(self, vhost: str) -> None: ...
    def user_names(self) -> list[str]: ...
    def put_user(self, name: str, password: SecretStr, tags: tuple[str, ...]) -> None: ...
    def delete_user(self, name: str) -> bool: ...
    def set_permissions(self, vhost: str, user: str, permission: Permission) -> None: ...
    def set_topic_permission(self, vhost: str, user: str, topic: TopicPermission) -> None: ...
    def close_connections(self, user: str, reason: str) -> int: ...
    def exchange_types(self, vhost: str) -> dict[str, str]: ...
    def delete_exchange(self, vhost: str, name: str) -> None: ...


class HttpBrokerAdmin:
    """The management HTTP API (rabbitmq_management), as an administrator."""

    def __init__(self, access: ManagementAccess, *, timeout: float = 30) -> None:
        self._client = httpx.Client(base_url=access.url.rstrip("/"), timeout=timeout,
                                    auth=(access.user, access.password.get_secret_value()))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpBrokerAdmin":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def authenticates(self) -> bool:
        return self._client.get("/api/whoami").status_code == 200

    def ensure_vhost(self, vhost: str) -> None:
        self._client.put(f"/api/vhosts/{_q(vhost)}").raise_for_status()

    def user_names(self) -> list[str]:
        response = self._client.get("/api/users", params={"columns": "name"})
        response.raise_for_status()
        return [u["name"] for u in response.json()]

    def put_user(self, name: str, password: SecretStr, tags: tuple[str, ...]) -> None:
        self._client.put(f"/api/users/{_q(name)}",
                         json={"password": password.get_secret_value(), "tags": ",".join(tags)}).raise_for_status()

    def delete_user(self, name: str) -> bool:
        response = self._client.delete(f"/api/users/{_q(name)}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def set_permissions(self, vhost: str, user: str, permission: Permission) -> None:
        self._client.put(f"/api/permissions/{_q(vhost)}/{_q(user)}", json={
            "configure": permission.configure, "write": permission.write, "read": permission.read}).raise_for_status()

    def set_topic_permission(self, vhost: str, user: str, topic: TopicPermission) -> None:
        self._client.put(f"/api/topic-permissions/{_q(vhost)}/{_q(user)}", json={
            "exchange": topic.exchange, "write": topic.write, "read": topic.read}).raise_for_status()

    def close_connections(self, user: str, reason: str) -> int:
        response = self._client.get("/api/connections", params={"columns": "name,user"})
        response.raise_for_status()
        closed = 0
        for connection in response.json():
            if connection.get("user") == user:
                done = self._client.delete(f"/api/connections/{_q(connection['name'])}", headers={"X-Reason": reason})
                closed += done.status_code in (200, 204)
        return closed

    def exchange_types(self, vhost: str) -> dict[str, str]:
        response = self._client.get(f"/api/exchanges/{_q(vhost)}", params={"columns": "name,type"})
        response.raise_for_status()
        return {e["name"]: e["type"] for e in response.json()}

    def delete_exchange(self, vhost: str, name: str) -> None:
        response = self._client.delete(f"/api/exchanges/{_q(vhost)}/{_q(name)}")
        if response.status_code != 404:
            response.raise_for_status()


class FakeBrokerAdmin:
    """In memory, for unit tests of provisioning."""

    def __init__(self) -> None:
        self.vhosts: set[str] = {"/"}
        self.users: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.permissions: dict[tuple[str, str], Permission] = {}
        self.topic_permissions: dict[tuple[str, str, str], TopicPermission] = {}
        self.connections: dict[str, int] = {}
        self.exchanges: dict[tuple[str, str], str] = {}

    def ensure_vhost(self, vhost: str) -> None:
        self.vhosts.add(vhost)

    def user_names(self) -> list[str]:
        return sorted(self.users)

    def put_user(self, name: str, password: SecretStr, tags: tuple[str, ...]) -> None:
        self.users[name] = (password.get_secret_value(), tags)

    def delete_user(self, name: str) -> bool:
        self.permissions = {k: v for k, v in self.permissions.items() if k[1] != name}
        self.topic_permissions = {k: v for k, v in self.topic_permissions.items() if k[1] != name}
        return self.users.pop(name, None) is not None

    def set_permissions(self, vhost: str, user: str, permission: Permission) -> None:
        self.permissions[(vhost, user)] = permission

    def set_topic_permission(self, vhost: str, user: str, topic: TopicPermission) -> None:
        self.topic_permissions[(vhost, user, topic.exchange)] = topic

    def close_connections(self, user: str, reason: str) -> int:
        return self.connections.pop(user, 0)

    def exchange_types(self, vhost: str) -> dict[str, str]:
        return {name: kind for (v, name), kind in self.exchanges.items() if v == vhost}

    def delete_exchange(self, vhost: str, name: str) -> None:
        self.exchanges.pop((vhost, name), None)


def _q(segment: str) -> str:
    return quote(segment, safe="")


@dataclass
class ProvisionReport:
    vhost: str
    users: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    connections_closed: int = 0

    def summary(self) -> str:
        text = f"{len(self.users)} broker users provisioned in vhost {self.vhost!r}"
        if self.revoked:
            text += f"; revoked {', '.join(self.revoked)} ({self.connections_closed} connection(s) closed)"
        return text


def revoked_users(federation: Federation) -> list[str]:
    """Users that must not exist: those of withdrawn members."""
    return [federation.broker_user(p.code) for p in federation.members if p.status is MemberStatus.WITHDRAWN]


def revoke(admin: BrokerAdmin, user: str) -> tuple[bool, int]:
    """Deletes the user (so it cannot log in again), then closes what it still has open."""
    deleted = admin.delete_user(user)
    closed = admin.close_connections(user, "broker access revoked: member withdrawn")
    if deleted or closed:
        log.warning("broker_user_revoked", user=user, connections_closed=closed)
    return deleted, closed


def provision_users(federation: Federation, admin: BrokerAdmin, secrets_dir: Path, vhost: str) -> ProvisionReport:
    report = ProvisionReport(vhost)
    admin.ensure_vhost(vhost)
    for user in broker_users(federation):
        admin.put_user(user.name, ensure_password(secrets_dir, user.name), user.tags)
        admin.set_permissions(vhost, user.name, user.permission)
        for topic in user.topic_permissions:
            admin.set_topic_permission(vhost, user.name, topic)
        report.users.append(user.name)
    for name in revoked_users(federation):
        deleted, closed = revoke(admin, name)
        if deleted or closed:
            report.revoked.append(name)
        report.connections_closed += closed
    return report


def replace_changed_exchanges(admin: BrokerAdmin, vhost: str, topology: Topology) -> list[str]:
    """Exchanges declared earlier with another type (pcms.dlx and the delay exchanges became topic exchanges)
    are deleted so that the topology can declare them again; their bindings are declared again with them."""
    existing = admin.exchange_types(vhost)
    changed = [e.name for e in topology.exchanges if e.name in existing and existing[e.name] != e.type]
    for name in changed:
        admin.delete_exchange(vhost, name)
        log.warning("exchange_redeclared", exchange=name, was=existing[name])
    return changed


def remove_users(admin: BrokerAdmin, prefix: str) -> list[str]:
    """Every user with this prefix (tests and benchmarks clean up their own)."""
    removed = [name for name in admin.user_names() if name.startswith(prefix)]
    for name in removed:
        admin.delete_user(name)
    return removed


def management_url_for(amqp_url: str) -> str:
    return (os.environ.get("PCMS_RABBITMQ_MANAGEMENT_URL") or os.environ.get("RABBITMQ_MANAGEMENT_URL")
            or f"http://{urlsplit(amqp_url).hostname or '127.0.0.1'}:15672")


def management_access(federation: Federation, amqp_url: str, secrets_dir: Path | None, *, url: str | None = None,
                      user: str | None = None, password: SecretStr | None = None) -> ManagementAccess:
    """Who provisions: the given administrator; else the provisioner (once its password exists); else guest (development)."""
    url = url or management_url_for(amqp_url)
    if user:
        return ManagementAccess(url, user, password or SecretStr(""))
    candidates = []
    if secrets_dir is not None and password_path(secrets_dir, provisioner_user(federation)).exists():
        candidates.append(ManagementAccess(url, provisioner_user(federation),
                                           read_password(secrets_dir, provisioner_user(federation))))
    candidates.append(ManagementAccess(url, *DEVELOPMENT_ADMIN))
    for candidate in candidates:
        with HttpBrokerAdmin(candidate) as admin:
            if admin.authenticates():
                return candidate
    return candidates[-1]


def provisioner_amqp_url(federation: Federation, amqp_url: str, secrets_dir: Path) -> SecretStr:
    name = provisioner_user(federation)
    return with_credentials(amqp_url, name, read_password(secrets_dir, name))


async def declare_topology(federation: Federation, amqp_url: SecretStr) -> Topology:
    from shared.messaging.amqp import apply_topology, connect

    topology = federation_topology(federation)
    connection = await connect(amqp_url.get_secret_value(), name="pcms-provisioner")
    try:
        await apply_topology(connection, topology)
    finally:
        await connection.close()
    return topology


def provision(federation: Federation, *, amqp_url: str, secrets_dir: Path,
              access: ManagementAccess | None = None, vhost: str | None = None) -> ProvisionReport:
    """Everything: users, permissions, revocations, then the topology declared as the provisioner."""
    import asyncio

    vhost = vhost or vhost_of(amqp_url)
    access = access or management_access(federation, amqp_url, secrets_dir)
    with HttpBrokerAdmin(access) as admin:
        report = provision_users(federation, admin, secrets_dir, vhost)
        replace_changed_exchanges(admin, vhost, federation_topology(federation))
    target = amqp_url if vhost == vhost_of(amqp_url) else _with_vhost(amqp_url, vhost)
    asyncio.run(declare_topology(federation, provisioner_amqp_url(federation, target, secrets_dir)))
    log.info("broker_provisioned", vhost=vhost, users=len(report.users), revoked=report.revoked)
    return report


def _with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlsplit(amqp_url)
    return parts._replace(path="/" + _q(vhost)).geturl()


# ---- definitions (RabbitMQ's import format) ----------------------------------------------------------

def password_hash(user: str, password: SecretStr) -> str:
    """rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), salt 4 bytes.

    The salt is derived from the user and password rather than random, so the generated file only
    changes when a password does (and the committed one can be checked for staleness).
    """
    secret = password.get_secret_value().encode("utf-8")
    salt = hashlib.sha256(b"pcms-definitions-salt:" + user.encode("utf-8") + b":" + secret).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + secret).digest()).decode("ascii")


def _user_entry(user: BrokerUser, password: SecretStr) -> dict[str, Any]:
    return {"name": user.name, "password_hash": password_hash(user.name, password),
            "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ",".join(user.tags), "limits": {}}


def definitions(federation: Federation, secrets_dir: Path, *, vhost: str = "/", create_passwords: bool = True,
                users: Iterable[BrokerUser] | None = None) -> dict[str, Any]:
    """Users (hashed passwords), the vhost, permissions, topic permissions and the topology. No guest."""
    chosen = list(users if users is not None else broker_users(federation))
    password = ensure_password if create_passwords else read_password
    topology = federation_topology(federation)
    return {
        "users": [_user_entry(u, password(secrets_dir, u.name)) for u in chosen],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": u.name, "vhost": vhost, "configure": u.permission.configure,
                         "write": u.permission.write, "read": u.permission.read} for u in chosen],
        "topic_permissions": [{"user": u.name, "vhost": vhost, "exchange": t.exchange, "write": t.write, "read": t.read}
                              for u in chosen for t in u.topic_permissions],
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "exchanges": [{"name": e.name, "vhost": vhost, "type": e.type, "durable": True, "auto_delete": False,
                       "internal": False, "arguments": {}} for e in topology.exchanges],
        "queues": [{"name": q.name, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": queue_arguments(q)} for q in topology.queues],
        "bindings": [{"source": b.source, "vhost": vhost, "destination": b.destination,
                      "destination_type": "exchange" if b.destination_is_exchange else "queue",
                      "routing_key": b.routing_key, "arguments": {}} for b in topology.bindings],
    }
