"""Broker passwords in the secrets directory, and the AMQP URL a service connects with.

`<secrets_dir>/broker/<user>` holds that user's password (0600). Provisioning writes the files that
are missing; services only read them. Passwords stay in SecretStr and never reach a log.
"""

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

BROKER_DIR = "broker"


class MissingBrokerPassword(FileNotFoundError):
    pass


def password_path(secrets_dir: Path, user: str) -> Path:
    return Path(secrets_dir) / BROKER_DIR / user


def read_password(secrets_dir: Path, user: str) -> SecretStr:
    path = password_path(secrets_dir, user)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise MissingBrokerPassword(
            f"no broker password for {user!r} at {path}: run `pcms broker provision --secrets-dir {secrets_dir}`"
        ) from None
    if not value:
        raise MissingBrokerPassword(f"the broker password file {path} is empty")
    return SecretStr(value)


def ensure_password(secrets_dir: Path, user: str) -> SecretStr:
    """The user's password, generated (and written 0600) when there is none yet."""
    path = password_path(secrets_dir, user)
    if path.exists():
        return read_password(secrets_dir, user)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return SecretStr(value)


def vhost_of(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def with_credentials(amqp_url: str, user: str, password: SecretStr) -> SecretStr:
    """The same broker, port and vhost as amqp_url, as this user."""
    parts = urlsplit(amqp_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(password.get_secret_value(), safe='')}@{host}"
    return SecretStr(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")))


def with_tls(amqp_url: SecretStr, *, enabled: bool, ca_file: Path | None = None, cert_file: Path | None = None,
             key_file: Path | None = None, verify: bool = True) -> SecretStr:
    """amqps with the query parameters aiormq turns into its SSL context (cafile, certfile, keyfile, no_verify_ssl)."""
    parts = urlsplit(amqp_url.get_secret_value())
    if not (enabled or parts.scheme == "amqps" or ca_file or cert_file):
        return amqp_url
    if (cert_file is None) != (key_file is None):
        raise ValueError("a client certificate needs both amqp_tls_cert_file and amqp_tls_key_file")
    query = dict(parse_qsl(parts.query))
    for name, value in (("cafile", ca_file), ("certfile", cert_file), ("keyfile", key_file)):
        if value is not None:
            query[name] = str(value)
    if not verify:
        query["no_verify_ssl"] = "1"
    else:
        query.pop("no_verify_ssl", None)
    return SecretStr(urlunsplit(("amqps", parts.netloc, parts.path or "/", urlencode(query), "")))


def redacted(amqp_url: str) -> str:
    """For logs: the URL without its password."""
    parts = urlsplit(amqp_url)
    if "@" not in parts.netloc:
        return amqp_url
    userinfo, host = parts.netloc.rsplit("@", 1)
    return urlunsplit((parts.scheme, f"{userinfo.split(':', 1)[0]}:***@{host}", parts.path, parts.query, ""))


def service_amqp_url(service: str, settings: "ServiceSettings", federation: "Federation") -> tuple[SecretStr, str | None]:
    """The URL a service connects with, and the user it connects as (None: the URL's own, for development).

    With a secrets directory, every service connects as its own broker user to the host, port and vhost
    of PCMS_AMQP_URL; without one, as PCMS_AMQP_URL says (the local guest).
    """
    url, user = settings.amqp_url, None
    if settings.secrets_dir is not None:
        user = federation.service_broker_user(service, settings.platform)
        url = with_credentials(url.get_secret_value(), user, read_password(settings.secrets_dir, user))
    url = with_tls(url, enabled=settings.amqp_tls, ca_file=settings.amqp_tls_ca_file,
                   cert_file=settings.amqp_tls_cert_file, key_file=settings.amqp_tls_key_file,
                   verify=settings.amqp_tls_verify)
    return url, user


def declares_topology(service: str, settings: "ServiceSettings", federation: "Federation") -> bool:
    """Only the hub's own user may configure the broker; with per-service users nobody else tries."""
    if settings.secrets_dir is None:
        return True
    return federation.service_broker_user(service, settings.platform) == federation.broker_user(federation.hub.code)


if TYPE_CHECKING:  # pragma: no cover
    from shared.federation import Federation
    from shared.settings import ServiceSettings
