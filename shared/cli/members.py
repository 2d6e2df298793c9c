"""`pcms members suspend|reinstate|withdraw|admit CODE`: membership is data, changed here and recorded as events."""

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
import yaml
from aio_pika.abc import AbstractConnection
from rich.console import Console

from shared.cli.credentials import Token, require_operator
from shared.cli.options import DEFAULT_FEDERATION, FederationFile, amqp_url, platform_dsn
from shared.federation import Federation, load_federation
from shared.membership import Action, MembershipChange, MembershipError, change
from shared.messaging import operations
from shared.messaging.amqp import apply_topology, connect
from shared.messaging.topology import federation_topology
from shared.security.roles import Action as Permission
from shared.security.broker_credentials import password_path, read_password, vhost_of, with_credentials
from shared.security.keys import load_signer
from shared.security.provisioning import HttpBrokerAdmin, management_access, provision_users, revoke

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


async def _record(federation: Federation, done: MembershipChange, reason: str | None, actor: str) -> None:
    connection = await asyncpg.connect(platform_dsn(federation.hub.code))
    try:
        await connection.execute(
            "INSERT INTO membership_events (code, action, from_status, to_status, actor, reason) "
            "VALUES ($1, $2, $3, $4, $5, $6)", done.code, done.action, done.before, done.after, actor, reason,
        )
    finally:
        await connection.close()


async def _reshape_broker(updated: Federation, done: MembershipChange) -> str:
    connection = await connect(amqp_url(), name="pcms-members")
    try:
        await apply_topology(connection, federation_topology(updated))
        if done.action == "withdraw":
            await operations.detach_platform(connection, done.code)
            return "its publishes are refused from now on (ingress unbound)"
        if done.action == "reinstate":
            return f"{await _release_as_hub(updated, done.code, connection)} held message(s) delivered"
        return ""
    finally:
        await connection.close()


async def _release_as_hub(federation: Federation, code: str, connection: AbstractConnection) -> int:
    """Held messages go out as the hub sends anything: signed again now with its key (a suspension may outlast
    the recipients' freshness limit), published as its broker user (the user_id recipients accept)."""
    secrets = os.environ.get("PCMS_SECRETS_DIR")
    if not secrets:
        return await operations.release_held(connection, code)
    secrets_dir = Path(secrets)
    signer = load_signer(secrets_dir, federation.hub.code)
    hub_user = federation.broker_user(federation.hub.code)
    if not password_path(secrets_dir, hub_user).exists():
        return await operations.release_held(connection, code, signer=signer)
    url = with_credentials(amqp_url(), hub_user, read_password(secrets_dir, hub_user))
    as_hub = await connect(url.get_secret_value(), name="pcms-members-release")
    try:
        return await operations.release_held(as_hub, code, signer=signer)
    finally:
        await as_hub.close()


def _apply(federation_file: Path, code: str, action: Action, reason: str | None, token: str | None,
           **new_member: Any) -> None:
    federation = load_federation(federation_file)
    operator = require_operator(federation, token, Permission.MANAGE_MEMBERS, f"members {action} {code.upper()}",
                                detail={"reason": reason} if reason else None)  # exits 3 unless an operator's token
    try:
        done = change(federation, code.upper(), action, new_member=new_member or None)
    except MembershipError as refused:
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2) from None
    updated = Federation.model_validate(done.federation)
    _write(federation_file, done.federation)
    asyncio.run(_record(federation, done, reason, operator.name))
    effect = asyncio.run(_reshape_broker(updated, done))
    try:
        access = _keep_broker_access(updated, done)
    except httpx.HTTPError as error:
        console.print(f"[red]{done.code}: {done.before or 'new'} -> {done.after}, but its broker access was not updated "
                      f"({type(error).__name__}: {error}); run `pcms broker provision`[/red]")
        raise typer.Exit(1) from None
    effect = "; ".join(e for e in (effect, access) if e)
    console.print(f"{done.code}: {done.before or 'new'} -> {done.after}" + (f"; {effect}" if effect else ""))


def _keep_broker_access(updated: Federation, done: MembershipChange) -> str:
    """A withdrawn member's broker user is deleted and its connections closed; an admitted one gets its user."""
    secrets = os.environ.get("PCMS_SECRETS_DIR")
    secrets_dir = Path(secrets) if secrets else None
    user = updated.broker_user(done.code)
    if done.action == "withdraw":
        with HttpBrokerAdmin(management_access(updated, amqp_url(), secrets_dir)) as admin:
            deleted, closed = revoke(admin, user)
        return f"broker user {user} {'deleted' if deleted else 'already absent'}, {closed} connection(s) closed"
    if done.action == "admit" and secrets_dir is not None:
        with HttpBrokerAdmin(management_access(updated, amqp_url(), secrets_dir)) as admin:
            provision_users(updated, admin, secrets_dir, vhost_of(amqp_url()))
        return f"broker user {user} provisioned"
    return ""


@app.command()
def suspend(code: Code, reason: Reason = None, token: Token = None,
            federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """Hold the member's traffic, both ways, until it is reinstated."""
    _apply(federation_file, code, "suspend", reason, token)


@app.command()
def reinstate(code: Code, reason: Reason = None, token: Token = None,
              federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """End a suspension: held traffic is delivered."""
    _apply(federation_file, code, "reinstate", reason, token)


@app.command()
def withdraw(code: Code, reason: Reason = None, token: Token = None,
             federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """The member receives nothing new and its publishes are refused; its past data stays at the hub."""
    _apply(federation_file, code, "withdraw", reason, token)


@app.command()
def admit(
    code: Code,
    name: Annotated[str | None, typer.Option(help="Name, for a new member.")] = None,
    city: Annotated[str | None, typer.Option(help="Seat of its platform, for a new member.")] = None,
    country: Annotated[str | None, typer.Option(help="ISO alpha-2, for a new member.")] = None,
    api_port: Annotated[int | None, typer.Option(help="Its API port, for a new member.")] = None,
    reason: Reason = None,
    token: Token = None,
    federation_file: FederationFile = DEFAULT_FEDERATION,
) -> None:
    """Admit a new member (no code change), or re-admit a withdrawn one."""
    details = {k: v for k, v in {"name": name, "city": city, "country": country, "api_port": api_port}.items() if v}
    _apply(federation_file, code, "admit", reason, token, **details)
