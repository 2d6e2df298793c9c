import os
from pathlib import Path
from urllib.parse import urlsplit
from typing import Annotated

import typer

from shared.federation import DEFAULT_FEDERATION_FILE

FederationFile = Annotated[
    Path, typer.Option("--federation-file", envvar="PCMS_FEDERATION_FILE", help="Federation file.")
]
DEFAULT_FEDERATION = DEFAULT_FEDERATION_FILE


def amqp_url() -> str:
    url = os.environ.get("PCMS_AMQP_URL") or os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
    return _as_provisioner(url)


def _as_provisioner(url: str) -> str:
    """A URL without credentials, with a secrets directory: operators' commands act as the provisioner."""
    secrets = os.environ.get("PCMS_SECRETS_DIR")
    if not secrets or "@" in urlsplit(url).netloc:
        return url
    from shared.federation import load_federation
    from shared.security.provisioning import provisioner_amqp_url

    federation = load_federation(os.environ.get("PCMS_FEDERATION_FILE") or DEFAULT_FEDERATION_FILE)
    return provisioner_amqp_url(federation, url, Path(secrets)).get_secret_value()


def database_url() -> str:
    return os.environ.get("PCMS_DATABASE_URL") or os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def database_prefix() -> str:
    return os.environ.get("PCMS_DATABASE_PREFIX", "pcms_")


def platform_database(platform: str) -> str:
    return f"{database_prefix()}{platform.lower()}"


def platform_dsn(platform: str) -> str:
    """The connection string of a platform's own database on the configured server."""
    from shared.db.connect import database_dsn

    return database_dsn(database_url(), platform_database(platform))
