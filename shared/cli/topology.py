import asyncio

import typer
from rich.console import Console

from shared.cli.options import DEFAULT_FEDERATION, FederationFile, amqp_url
from shared.federation import load_federation
from shared.messaging.amqp import apply_topology, connect
from shared.messaging.topology import federation_topology

app = typer.Typer(help="The broker topology.", no_args_is_help=True)


@app.command("apply")
def apply(federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """Declare every exchange, queue and binding the federation needs (idempotent)."""
    topology = federation_topology(load_federation(federation_file))

    async def _apply() -> None:
        connection = await connect(amqp_url(), name="pcms-cli")
        try:
            await apply_topology(connection, topology)
        finally:
            await connection.close()

    asyncio.run(_apply())
    Console().print(
        f"topology applied: {len(topology.exchanges)} exchanges, {len(topology.queues)} queues, "
        f"{len(topology.bindings)} bindings"
    )
