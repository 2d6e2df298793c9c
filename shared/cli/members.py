"""`pcms members suspend|reinstate|withdraw|admit CODE`: membership is data, changed here and recorded as events."""

import asyncio
import getpass
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
import yaml
from rich.console import Console

from shared.cli.options import DEFAULT_FEDERATION, FederationFile, amqp_url, database_prefix, database_url
from shared.db.connect import database_dsn
from shared.federation import Federation, load_federation
from shared.membership import Action, MembershipChange, MembershipError, change
from shared.messaging import operations
from shared.messaging.amqp import apply_topology, connect
from shared.messaging.topology import federation_topology

app = typer.Typer(help="Admit, suspend, reinstate or withdraw a member platform.", no_args_is_help=True)
console = Console()
Code = Annotated[str, typer.Argument(help="Platform code, e.g. TD.")]
Reason = Annotated[str | None, typer.Option(help="Why, for the record.")]


def _write(path: Path, data: dict[str, Any]) -> None:
    header = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    tmp.replace(path)  # services reread the file when it changes: never let them see half of it


async def _record(federation: Federation, done: MembershipChange, reason: str | None) -> None:
    hub_database = f"{database_prefix()}{federation.hub.code.lower()}"
    connection = await asyncpg.connect(database_dsn(database_url(), hub_database))
    try:
        await connection.execute(
            "INSERT INTO membership_events (code, action, from_status, to_status, actor, reason) "
            "VALUES ($1, $2, $3, $4, $5, $6)", done.code, done.action, done.before, done.after, getpass.getuser(), reason,
        )
    finally:
        await connection.close()


async def _reshape_broker(updated: Federation, done: MembershipChange) -> str:
    connection = await connect(amqp_url(), name="pcms-members")
    try:
        await apply_topology(connection, federation_topology(updated))
        if done.action == "withdraw":
            await operations.detach_platform(connection, done.code)
            return "its publishes are refused from now on (ingress unbound); revoke its broker user too"
        if done.action == "reinstate":
            return f"{await operations.release_held(connection, done.code)} held message(s) delivered"
        return ""
    finally:
        await connection.close()


def _apply(federation_file: Path, code: str, action: Action, reason: str | None, **new_member: Any) -> None:
    federation = load_federation(federation_file)
    try:
        done = change(federation, code.upper(), action, new_member=new_member or None)
    except MembershipError as refused:
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2) from None
    updated = Federation.model_validate(done.federation)
    _write(federation_file, done.federation)
    asyncio.run(_record(federation, done, reason))
    effect = asyncio.run(_reshape_broker(updated, done))
    console.print(f"{done.code}: {done.before or 'new'} -> {done.after}" + (f"; {effect}" if effect else ""))


@app.command()
def suspend(code: Code, reason: Reason = None, federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """Hold the member's traffic, both ways, until it is reinstated."""
    _apply(federation_file, code, "suspend", reason)


@app.command()
def reinstate(code: Code, reason: Reason = None, federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """End a suspension: held traffic is delivered."""
    _apply(federation_file, code, "reinstate", reason)


@app.command()
def withdraw(code: Code, reason: Reason = None, federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """The member receives nothing new and its publishes are refused; its past data stays at the hub."""
    _apply(federation_file, code, "withdraw", reason)


@app.command()
def admit(
    code: Code,
    name: Annotated[str | None, typer.Option(help="Name, for a new member.")] = None,
    city: Annotated[str | None, typer.Option(help="Seat of its platform, for a new member.")] = None,
    country: Annotated[str | None, typer.Option(help="ISO alpha-2, for a new member.")] = None,
    api_port: Annotated[int | None, typer.Option(help="Its API port, for a new member.")] = None,
    reason: Reason = None,
    federation_file: FederationFile = DEFAULT_FEDERATION,
) -> None:
    """Admit a new member (no code change), or re-admit a withdrawn one."""
    details = {k: v for k, v in {"name": name, "city": city, "country": country, "api_port": api_port}.items() if v}
    _apply(federation_file, code, "admit", reason, **details)
