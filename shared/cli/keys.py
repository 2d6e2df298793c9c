"""`pcms keys init|rotate|retire|list`: the platforms' Ed25519 signing keys.

Private keys stay in the secrets directory (signing/<CODE>.pem, signing/<CODE>.key-id); public keys
go to the federation's keyring file, which every service rereads when it changes. Rotation without
downtime: `rotate` adds a new active key beside the old one and the platform's services switch to
it within a second; once what the old key signed has been consumed, `retire` it.
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.options import DEFAULT_FEDERATION
from shared.federation import load_federation
from shared.security.keys import (
    ensure_signing_keys,
    federation_keyring,
    key_paths,
    read_signing_key,
    retire_key,
    rotate_key,
)

app = typer.Typer(help="Signing keys of the platforms (Ed25519), and the federation's keyring.", no_args_is_help=True)
console = Console()

DEFAULT_SECRETS = Path(".run/secrets")
FederationOption = Annotated[Path, typer.Option("--federation-file", "--federation", envvar="PCMS_FEDERATION_FILE",
                                                help="Federation file (its `keyring:` names the keyring).")]
SecretsDir = Annotated[Path, typer.Option("--secrets-dir", envvar="PCMS_SECRETS_DIR",
                                          help="Where private keys are (signing/<CODE>.pem).")]
PlatformOption = Annotated[str, typer.Option("--platform", help="Platform code, e.g. MR.")]


@app.command()
def init(
    federation_file: FederationOption = DEFAULT_FEDERATION,
    secrets_dir: SecretsDir = DEFAULT_SECRETS,
    platform: Annotated[list[str] | None, typer.Option("--platform", help="Only these platforms (default: all).")] = None,
) -> None:
    """Create the missing keys of every connected platform and list them in the keyring (idempotent)."""
    created = ensure_signing_keys(federation_file, secrets_dir, [p.upper() for p in platform] if platform else None)
    keyring = federation_keyring(federation_file)
    console.print(f"{len(created)} key(s) created{': ' + ', '.join(created) if created else ''}; "
                  f"keyring {keyring}; private keys in {secrets_dir / 'signing'}")


@app.command()
def rotate(platform: PlatformOption, federation_file: FederationOption = DEFAULT_FEDERATION,
           secrets_dir: SecretsDir = DEFAULT_SECRETS) -> None:
    """A new key, active beside the old one; the platform signs with it from now on."""
    try:
        old, new = rotate_key(federation_file, secrets_dir, platform.upper())
    except KeyError as unknown:
        console.print(f"[red]{unknown}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{platform.upper()}: signs with {new} now" + (
        f"; {old} stays active until `pcms keys retire --platform {platform.upper()} --key-id {old}`" if old else ""))


@app.command()
def retire(platform: PlatformOption, key_id: Annotated[str, typer.Option("--key-id", help="The key to retire.")],
           federation_file: FederationOption = DEFAULT_FEDERATION, secrets_dir: SecretsDir = DEFAULT_SECRETS) -> None:
    """What this key signed is refused from now on."""
    try:
        retire_key(federation_file, secrets_dir, platform.upper(), key_id)
    except (KeyError, ValueError) as refused:
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{platform.upper()}: {key_id} retired")


@app.command("list")
def list_(federation_file: FederationOption = DEFAULT_FEDERATION, secrets_dir: SecretsDir = DEFAULT_SECRETS) -> None:
    """The keyring, and which keys this secrets directory signs with."""
    federation = load_federation(federation_file)
    table = Table("platform", "key id", "status", "signs here")
    for key in sorted(federation.keys, key=lambda k: (k.platform, k.id)):
        current = read_signing_key(secrets_dir, key.platform) if key_paths(secrets_dir, key.platform)[0].exists() else None
        table.add_row(key.platform, key.id, key.status.value, "yes" if current and current.key_id == key.id else "")
    console.print(table)
    if not federation.keyring:
        console.print("[yellow]the federation names no keyring: run `pcms keys init`[/yellow]")
