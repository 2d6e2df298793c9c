import asyncio

import typer
from rich.console import Console

from shared.cli.options import DEFAULT_FEDERATION, FederationFile, database_prefix, database_url
from shared.federation import load_federation
from shared.host import prepare_database
from shared.settings import ServiceSettings

app = typer.Typer(help="The platforms' databases.", no_args_is_help=True)


@app.command("migrate")
def migrate(federation_file: FederationFile = DEFAULT_FEDERATION) -> None:
    """Create every active platform's database and apply migrations."""
    federation = load_federation(federation_file)
    console = Console()
    for platform in federation.active_platforms:
        settings = ServiceSettings(platform=platform.code, database_url=database_url(),
                                   database_prefix=database_prefix(), federation_file=federation_file)
        applied = asyncio.run(prepare_database(settings))
        console.print(f"{settings.database_name}: {len(applied)} migrations applied")
