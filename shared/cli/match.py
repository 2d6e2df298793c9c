"""`pcms match`: ask the hub's matching API (the enrichment service) about a person or a pair of records."""

import json
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shared.cli.credentials import Token, bearer

app = typer.Typer(help="Query the regional index at the hub and compare records.", no_args_is_help=True)
console = Console()
DEFAULT_URL = "http://127.0.0.1:8200"
Url = typer.Option(DEFAULT_URL, "--url", envvar="PCMS_MATCH_URL", help="The hub's matching API.")


def _post(url: str, path: str, payload: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """Sends an analyst's token (--token or PCMS_TOKEN) issued by the hub."""
    try:
        response = httpx.post(f"{url.rstrip('/')}{path}", json=payload, headers=bearer(token), timeout=30)
    except httpx.HTTPError as error:
        console.print(f"[red]cannot reach the matching API at {url}: {error}[/red]")
        raise typer.Exit(2) from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code == 422:
        for problem in body.get("problems", []):
            console.print(f"[red]{problem['path']}: {problem['reason']}[/red]")
        raise typer.Exit(1)
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: {body.get('detail') or response.text}[/red]")
        raise typer.Exit(1)
    return body


def _outcome(outcome: str) -> str:
    colour = {"hit": "green", "review": "yellow"}.get(outcome, "dim")
    return f"[{colour}]{outcome}[/{colour}]"


@app.command()
def person(
    name: list[str] = typer.Option(..., "--name", help="A name in any script; repeat for other spellings."),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY, YYYY-MM or YYYY-MM-DD."),
    nationality: str | None = typer.Option(None, "--nationality", help="ISO 3166-1 code, e.g. MR."),
    gender: str | None = typer.Option(None, "--gender", help="male, female or unknown."),
    limit: int = typer.Option(10, min=1, max=100),
    url: str = Url,
    token: Token = None,
) -> None:
    """Candidates for a person in the regional index, best first."""
    entity: dict[str, Any] = {"names": name}
    entity |= {k: v for k, v in {"birth_date": birth_date, "nationality": nationality, "gender": gender}.items() if v}
    result = _post(url, "/v1/match", {"entity_type": "person", "entity": entity, "limit": limit}, token)
    if not result["candidates"]:
        console.print(f"no candidate among {result['index_records']} records")
        return
    table = Table("#", "score", "outcome", "platform", "message", "pos", "explanation",
                  title=f"{result['count']} candidates for {' / '.join(name)}")
    for c in result["candidates"]:
        table.add_row(str(c["rank"]), f"{c['score']:.2f}", _outcome(c["outcome"]), c["platform"], c["message_id"],
                      str(c["position"]), "\n".join(c["explanation"]))
    console.print(table)


@app.command()
def compare(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help='JSON: {"entity_type": "person", "left": {...}, "right": {...}}'),
    url: str = Url,
    token: Token = None,
) -> None:
    """Score two records of one type against each other, with the explanation."""
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{file} is not readable JSON: {error}") from None
    result = _post(url, "/v1/match/compare", payload, token)
    table = Table("score", "outcome", "explanation", title=f"{result['entity_type']}: left vs right")
    table.add_row(f"{result['score']:.2f}", _outcome(result["outcome"]), "\n".join(result["explanation"]))
    console.print(table)
