import os
from pathlib import Path
from typing import Annotated

import typer

from shared.federation import DEFAULT_FEDERATION_FILE

FederationFile = Annotated[
    Path, typer.Option("--federation-file", envvar="PCMS_FEDERATION_FILE", help="Federation file.")
]
DEFAULT_FEDERATION = DEFAULT_FEDERATION_FILE


def amqp_url() -> str:
    return os.environ.get("PCMS_AMQP_URL") or os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"


def database_url() -> str:
    return os.environ.get("PCMS_DATABASE_URL") or os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def database_prefix() -> str:
    return os.environ.get("PCMS_DATABASE_PREFIX", "pcms_")
