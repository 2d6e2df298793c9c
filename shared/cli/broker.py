"""`pcms broker provision|definitions`: the broker's users, permissions and topology for a federation."""

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console

from shared.cli.options import DEFAULT_FEDERATION, FederationFile, amqp_url
from shared.federation import load_federation
from shared.security.provisioning import definitions, management_access, provision

app = typer.Typer(help="Broker users, permissions and definitions.", no_args_is_help=True)
console = Console()

DEFAULT_SECRETS = Path(".run/secrets")
SecretsDir = Annotated[Path, typer.Option("--secrets-dir", envvar="PCMS_SECRETS_DIR",
                                          help="Where broker passwords are (broker/<user>); missing ones are generated.")]


def secrets_dir_or_default() -> Path:
    return Path(os.environ.get("PCMS_SECRETS_DIR") or DEFAULT_SECRETS)


@app.command("provision")
def provision_command(
    federation_file: FederationFile = DEFAULT_FEDERATION,
    secrets_dir: SecretsDir = DEFAULT_SECRETS,
    vhost: Annotated[str | None, typer.Option(help="Virtual host (default: the one of PCMS_AMQP_URL).")] = None,
    management_url: Annotated[str | None, typer.Option(help="Management API (default: the AMQP host, port 15672).")] = None,
    admin_user: Annotated[str | None, typer.Option(envvar="PCMS_BROKER_ADMIN_USER",
                                                   help="An administrator (default: the provisioner, else guest "
                                                        "on a development broker).")] = None,
    admin_password: Annotated[str | None, typer.Option(envvar="PCMS_BROKER_ADMIN_PASSWORD")] = None,
) -> None:
    """Create or update every broker user, its permissions and topic permissions; revoke withdrawn members; declare the topology."""
    federation = load_federation(federation_file)
    access = management_access(federation, amqp_url(), secrets_dir, url=management_url, user=admin_user,
                               password=SecretStr(admin_password) if admin_password else None)
    report = provision(federation, amqp_url=amqp_url(), secrets_dir=secrets_dir, access=access, vhost=vhost)
    console.print(report.summary() + f" (as {access.user}; passwords in {secrets_dir / 'broker'})")


@app.command("definitions")
def definitions_command(
    out: Annotated[Path, typer.Option(help="The definitions file to write.")] = Path("deploy/rabbitmq/definitions.json"),
    federation_file: FederationFile = DEFAULT_FEDERATION,
    secrets_dir: SecretsDir = Path("deploy/development-secrets"),
    vhost: str = "/",
) -> None:
    """Write RabbitMQ definitions (users with hashed passwords, permissions, topology; no guest) for loading at boot."""
    document = definitions(load_federation(federation_file), secrets_dir, vhost=vhost)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(document), encoding="utf-8")
    console.print(f"{out}: {len(document['users'])} users, {len(document['queues'])} queues, "
                  f"{len(document['bindings'])} bindings")


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
