"""`pcms users add|revoke|list`: API users of a platform; a token is printed once, only its hash is kept."""

import asyncio
import getpass
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from shared.cli.options import DEFAULT_FEDERATION, FederationFile, database_url, platform_database, platform_dsn
from shared.db.connect import database_dsn, ensure_database
from shared.db.migrate import migrate
from shared.federation import load_federation
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.ports import ApiUser, SecurityEvent
from shared.security.roles import Role, assignable
from shared.security.tokens import is_token_id, new_token

app = typer.Typer(help="API users: tokens per user of a national service, with a role.", no_args_is_help=True)
console = Console(stderr=True)
Platform = Annotated[str, typer.Option("--platform", help="The platform whose API accepts the token (e.g. NE, HUB).")]



async def issue_token(server_url: str, database: str, *, platform: str, name: str, role: str,
                      created_by: str | None = None) -> str:
    """Creates the user's token in the platform's database (created and migrated first); returns it: show it once."""
    await ensure_database(server_url, database)
    connection = await asyncpg.connect(database_dsn(server_url, database))
    try:
        await migrate(connection)
        token = new_token()
        await AsyncpgTokenStore(connection).add(
            ApiUser(token.token_id, platform, name, role, token.secret_sha256), created_by=created_by)
        await AsyncpgSecurityEventLog(connection).record(SecurityEvent(
            platform=platform, service="cli", kind="operator_action", reason=f"token {token.token_id} issued to {name} ({role})",
            token_id=token.token_id, actor=created_by, method="CLI", path="users add", detail={"user": name, "role": role}))
        return token.text
    finally:
        await connection.close()


async def _revoke(dsn: str, platform: str, name: str | None, token_id: str | None, by: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        revoked = await AsyncpgTokenStore(connection).revoke(platform=platform, name=name, token_id=token_id, revoked_by=by)
        if revoked:
            await AsyncpgSecurityEventLog(connection).record(SecurityEvent(
                platform=platform, service="cli", kind="operator_action", actor=by, method="CLI", path="users revoke",
                reason=f"revoked {', '.join(revoked)}", detail={"user": name, "token_ids": revoked}))
        return revoked
    finally:
        await connection.close()


async def _list(dsns: dict[str, str], include_revoked: bool) -> list[ApiUser]:
    found: list[ApiUser] = []
    for dsn in dsns.values():
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.InvalidCatalogNameError):
            continue
        try:
            found += await AsyncpgTokenStore(connection).users(include_revoked=include_revoked)
        except asyncpg.UndefinedTableError:
            pass
        finally:
            await connection.close()
    return found


def _platform(federation_file: Path, code: str) -> tuple[str, bool]:
    federation = load_federation(federation_file)
    try:
        platform = federation.get(code.upper())
    except KeyError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    return platform.code, platform.code == federation.hub.code


@app.command()
def add(
    platform: Platform,
    name: Annotated[str, typer.Option("--name", help="Who uses the token, e.g. officer.diallo.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(r.value for r in Role)}.")],
    federation_file: FederationFile = DEFAULT_FEDERATION,
) -> None:
    """Create a token for NAME at PLATFORM with ROLE; the token is printed once, on stdout."""
    code, at_hub = _platform(federation_file, platform)
    if (why := assignable(role, at_hub=at_hub)) is not None:
        console.print(f"[red]{why}[/red]")
        raise typer.Exit(2)
    if not name.strip() or len(name) > 200:
        raise typer.BadParameter("a name of 1 to 200 characters")
    text = asyncio.run(issue_token(database_url(), platform_database(code), platform=code, name=name.strip(), role=role,
                                   created_by=getpass.getuser()))
    console.print(f"token for {name} ({role}) at {code}: shown once, keep it secret; only its hash is stored")
    typer.echo(text)


@app.command()
def revoke(
    platform: Platform,
    name: Annotated[str | None, typer.Option("--name", help="Revoke every live token of this user.")] = None,
    token_id: Annotated[str | None, typer.Option("--token-id", help="Revoke this token only (the id after pcms_).")] = None,
    federation_file: FederationFile = DEFAULT_FEDERATION,
) -> None:
    """Revoke a user's tokens (by name) or one token (by id); the APIs refuse it within their cache time (5 s)."""
    if (name is None) == (token_id is None):
        raise typer.BadParameter("give --name or --token-id")
    if token_id is not None and not is_token_id(token_id):
        raise typer.BadParameter("a token id is 12 hexadecimal characters")
    code, _ = _platform(federation_file, platform)
    revoked = asyncio.run(_revoke(platform_dsn(code), code, name, token_id, getpass.getuser()))
    if not revoked:
        console.print(f"[yellow]no live token matched at {code}[/yellow]")
        raise typer.Exit(1)
    console.print(f"revoked at {code}: {', '.join(revoked)}")


@app.command("list")
def list_(
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Revoked tokens too.")] = False,
    federation_file: FederationFile = DEFAULT_FEDERATION,
) -> None:
    """Users and their token ids (never the tokens) of every active platform."""
    federation = load_federation(federation_file)
    codes = [_platform(federation_file, platform)[0]] if platform else [p.code for p in federation.active_platforms]
    users = asyncio.run(_list({code: platform_dsn(code) for code in codes}, include_revoked))
    table = Table("platform", "name", "role", "token id", "created", "revoked")
    for user in users:
        table.add_row(user.platform, user.name, user.role, user.token_id,
                      user.created_at.isoformat(timespec="seconds") if user.created_at else "",
                      user.revoked_at.isoformat(timespec="seconds") if user.revoked_at else "")
    Console().print(table if users else "no users")
