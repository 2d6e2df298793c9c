"""`pcms`: the operators' command line."""

import typer

from shared.cli import audit, broker, db, dlq, importer, keys, match, members, run, topology, users

app = typer.Typer(help="PCMS Exchange: operate the federation.", no_args_is_help=True)
app.add_typer(topology.app, name="topology")
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(dlq.app, name="dlq")
app.add_typer(members.app, name="members")
app.add_typer(broker.app, name="broker")
app.add_typer(keys.app, name="keys")
app.add_typer(match.app, name="match")
app.add_typer(users.app, name="users")
app.command("run")(run.run)
app.command("import")(importer.import_command)

if __name__ == "__main__":
    app()
