import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.credentials import Token, require_operator
from shared.cli.options import DEFAULT_FEDERATION, FederationFile, amqp_url
from shared.federation import load_federation
from shared.messaging import operations
from shared.messaging.amqp import connect
from shared.messaging.topology import federation_topology
from shared.security.broker_access import holding_queue_owner
from shared.security.broker_credentials import MissingBrokerPassword, read_password, with_credentials
from shared.security.roles import Action

app = typer.Typer(help="Quarantined and parked messages.", no_args_is_help=True)
console = Console()
T = TypeVar("T")
Queue = Annotated[str, typer.Argument(help="A quarantine.<P> or <queue>.dlq queue (see `pcms dlq list`).")]


def _with_broker(work: Callable[..., Awaitable[T]], *args: object, url: str | None = None, **kwargs: object) -> T:
    async def _run() -> T:
        connection = await connect(url or amqp_url(), name="pcms-dlq")
        try:
            return await work(connection, *args, **kwargs)
        finally:
            await connection.close()

    return asyncio.run(_run())


def _owner_url(queue: str, federation_file: Path) -> str | None:
    """With this deployment's secrets, a replay is published as the queue's owner (its consumers accept it)."""
    secrets = os.environ.get("PCMS_SECRETS_DIR")
    if not secrets:
        return None
    owner = holding_queue_owner(queue, load_federation(federation_file))
    try:
        password = read_password(Path(secrets), owner)
    except MissingBrokerPassword:
        return None
    return with_credentials(amqp_url(), owner, password).get_secret_value()


def _operator(federation_file: Path, token: str | None, command: str, **detail: object) -> None:
    """Every dlq command needs an operator's token issued by the hub; the action is recorded with the name."""
    require_operator(load_federation(federation_file), token, Action.MANAGE_DLQ, command,
                     detail={k: v for k, v in detail.items() if v is not None})


def _checked(queue: str) -> str:
    if not operations.is_holding_queue(queue):
        raise typer.BadParameter(f"{queue} is not a quarantine or parking-lot queue")
    return queue


@app.command("list")
def list_(federation_file: FederationFile = DEFAULT_FEDERATION,
          all_queues: bool = typer.Option(False, "--all", help="Show empty queues too."), token: Token = None) -> None:
    """How many messages each quarantine and parking-lot queue holds."""
    _operator(federation_file, token, "dlq list")
    queues = operations.holding_queues(federation_topology(load_federation(federation_file)))
    counts = _with_broker(operations.count, queues)
    table = Table("queue", "messages")
    for name, held in counts.items():
        if held or all_queues:
            table.add_row(name, str(held))
    console.print(table if table.row_count else "every quarantine and parking-lot queue is empty")


@app.command()
def show(queue: Queue, limit: int = typer.Option(10, min=1, max=1000), token: Token = None,
         federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """The held messages with their reason; they stay in the queue."""
    _operator(federation_file, token, "dlq show", queue=queue, limit=limit)
    for held in _with_broker(operations.peek, _checked(queue), limit):
        console.print(f"[bold]{held.message_id}[/bold] type={held.type} from={held.origin_queue} attempts={held.attempts}")
        console.print(f"  reason: {held.reason}")
        console.print(f"  body: {held.body[:300]!r}")


@app.command("replay")
def replay_(queue: Queue, limit: int = typer.Option(100, min=1), message_id: str | None = typer.Option(None),
            token: Token = None, federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """Send held messages back to the queue they came from, through validation again."""
    _operator(federation_file, token, "dlq replay", queue=queue, limit=limit, message_id=message_id)
    replayed = _with_broker(operations.replay, _checked(queue), limit=limit, message_id=message_id,
                            url=_owner_url(queue, federation_file))
    console.print(f"replayed {len(replayed)} message(s) from {queue}")


@app.command("purge")
def purge_(queue: Queue, yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
           token: Token = None, federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """Delete every message held in the queue (asks first)."""
    _checked(queue)
    _operator(federation_file, token, "dlq purge", queue=queue)
    if not yes and not typer.confirm(f"Delete every message in {queue}? They cannot be recovered"):
        raise typer.Abort()
    console.print(f"purged {_with_broker(operations.purge, queue)} message(s) from {queue}")
