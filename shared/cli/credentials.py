"""The token a command presents: `--token` or PCMS_TOKEN. API clients send it; operators' commands verify it."""

import asyncio
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console

from shared.cli.options import platform_dsn
from shared.federation import Federation
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.operators import Operator, OperatorRefused, authenticate_operator
from shared.security.roles import Action

Token = Annotated[str | None, typer.Option("--token", envvar="PCMS_TOKEN", show_default=False,
                                           help="API token (or PCMS_TOKEN), from `pcms users add`.")]


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.strip()}"} if token else {}


def require_operator(federation: Federation, token: str | None, action: Action, command: str,
                     detail: dict[str, Any] | None = None) -> Operator:
    """The operator whose token (verified against the hub's token store) runs this command; exits 3 otherwise."""

    async def check() -> Operator:
        hub = federation.hub.code
        connection = await asyncpg.connect(platform_dsn(hub))
        try:
            return await authenticate_operator(token, store=AsyncpgTokenStore(connection),
                                               events=AsyncpgSecurityEventLog(connection), hub=hub, action=action,
                                               command=command, detail=detail)
        finally:
            await connection.close()

    try:
        return asyncio.run(check())
    except OperatorRefused as refused:
        Console(stderr=True).print(f"[red]refused ({refused.kind}): {refused.reason}[/red]")
        raise typer.Exit(3) from None
