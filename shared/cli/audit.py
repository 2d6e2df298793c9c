"""`pcms audit`: verify the tamper-evident audit log, prove an entry, query trails, purge by policy.

Every command works on one platform's database (`--platform`, default HUB), found like the
services find it (DATABASE_URL, PCMS_DATABASE_PREFIX). Queries that show entries of a message
(`trail`, `platform`) are recorded as `read` entries with the operator's login as actor.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import typer
import yaml
from rich.console import Console

from shared.cli.options import platform_dsn
from shared.contracts.events import Hop, HopRecorded
from services.audit import adapters
from services.audit.api import entries_csv
from services.audit.domain.checkpoint import (
    key_id,
    private_key_from_pem,
    public_key_from_pem,
    to_json_dict,
    verify_checkpoint,
)
from services.audit.domain.merkle import MerkleTree, verify_inclusion
from services.audit.keys import load_trusted_keys, log_id_for, signing_key_path
from services.audit.settings import AuditSettings
from services.audit.verification import WitnessCopy, load_witness_copy, verify_database

app = typer.Typer(help="The tamper-evident audit log: verify, prove, query, purge.", no_args_is_help=True)
console = Console()
T = TypeVar("T")

Platform = Annotated[str, typer.Option("--platform", "-p", help="Whose audit log (HUB, NE...).")]
Format = Annotated[str, typer.Option("--format", help="json or csv.")]
DEFAULT_RETENTION = Path(__file__).resolve().parents[2] / "deploy" / "audit-retention.yaml"


def _with_db(platform: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def _run() -> T:
        connection = await asyncpg.connect(platform_dsn(platform))
        try:
            return await work(connection)
        finally:
            await connection.close()

    return asyncio.run(_run())


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def public_keys_for(platform: str, extra: list[Path]) -> dict:
    """The platform's own key (from its signing key file, when readable here), the trusted directory, --public-key."""
    settings = AuditSettings(platform=platform)
    keys = load_trusted_keys(settings.audit_trusted_keys_dir)
    path, _ = signing_key_path(platform, settings.audit_signing_key_file, settings.audit_key_dir)
    if path.exists():
        public = private_key_from_pem(path.read_bytes()).public_key()
        keys[key_id(public)] = public
    for file in extra:
        public = public_key_from_pem(file.read_bytes())
        keys[key_id(public)] = public
    return keys


@app.command("verify")
def verify(
    platform: Platform = "HUB",
    witness: Annotated[list[str], typer.Option("--witness", "-w", help="Also check against this platform's witness copy (repeatable).")] = [],  # noqa: B006
    public_key: Annotated[list[Path], typer.Option("--public-key", help="A trusted PEM public key (repeatable).")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Recompute every entry, leaf and checkpoint root from the database; report the first bad entry."""
    platform = platform.upper()
    log_id = log_id_for(platform)
    keys = public_keys_for(platform, public_key)

    async def work(connection: asyncpg.Connection) -> list[dict[str, Any]]:
        copies: list[WitnessCopy | None] = []
        for code in witness:
            witness_connection = await asyncpg.connect(platform_dsn(code.upper()))
            try:
                copies.append(await load_witness_copy(witness_connection, code.upper(), log_id))
            finally:
                await witness_connection.close()
        return [(await verify_database(connection, log_id=log_id, public_keys=keys, witness=copy)).as_dict()
                for copy in copies or [None]]

    results = _with_db(platform, work)
    ok = all(result["ok"] for result in results)
    if as_json:
        _print_json({"platform": platform, "log_id": log_id, "ok": ok, "results": results})
    else:
        for result in results:
            against = f" against the witness copy of {result['witness']}" if result["witness"] else ""
            if result["ok"]:
                console.print(f"[green]{platform}: audit log intact[/green]{against}: {result['entries']} entries, "
                              f"{result['verified_size']} covered by {result['checkpoints']} checkpoints "
                              f"({result['seconds']} s)")
            else:
                failure = result["failure"]
                first = result["first_bad_seq"]
                console.print(f"[red]{platform}: audit log NOT intact[/red]{against}: first bad entry: "
                              f"{first if first is not None else 'within ' + str(failure and failure['window'])}")
                if failure:
                    console.print(f"  {failure['kind']}: {failure['message']}")
                for problem in result["problems"]:
                    console.print(f"  {problem}")
            for note in result["notes"]:
                console.print(f"  note: {note}")
    raise typer.Exit(0 if ok else 1)


@app.command("proof")
def proof(
    message_id: Annotated[UUID, typer.Option("--message-id", help="The message whose entries to prove.")],
    platform: Platform = "HUB",
    public_key: Annotated[list[Path], typer.Option("--public-key", help="A trusted PEM public key (repeatable).")] = [],  # noqa: B006
) -> None:
    """Print an RFC 6962 inclusion proof of each entry of a message in the latest signed checkpoint."""
    platform = platform.upper()
    log_id = log_id_for(platform)
    keys = public_keys_for(platform, public_key)

    async def work(connection: asyncpg.Connection) -> dict[str, Any]:
        rows = await connection.fetch(
            "SELECT seq, content_sha256, leaf_hash, hop, platform FROM audit_log WHERE message_id = $1 ORDER BY seq",
            message_id)
        tree = MerkleTree(await adapters.leaf_hashes(connection))
        signed = await adapters.checkpoints(connection, log_id)
        latest = signed[-1] if signed else None
        proofs = []
        for row in rows:
            seq = row["seq"]
            entry: dict[str, Any] = {"seq": seq, "hop": row["hop"], "platform": row["platform"],
                                     "content_sha256": row["content_sha256"], "leaf_hash": bytes(row["leaf_hash"]).hex()}
            if latest is None or seq >= latest.size:
                entry["proof"] = None
                entry["note"] = "not covered by a signed checkpoint yet"
            else:
                path = tree.inclusion_proof(seq, latest.size)
                entry["proof"] = {"tree_size": latest.size, "root": latest.root.hex(),
                                  "audit_path": [node.hex() for node in path]}
                entry["verified"] = verify_inclusion(bytes(row["leaf_hash"]), seq, latest.size, path, latest.root)
            proofs.append(entry)
        return {
            "message_id": str(message_id), "platform": platform,
            "checkpoint": None if latest is None else to_json_dict(latest) | {
                "signature_valid": verify_checkpoint(latest, keys)},
            "leaf": 'SHA-256(0x00 || {"content_sha256":"<hex>","seq":<seq>})',
            "entries": proofs,
        }

    result = _with_db(platform, work)
    if not result["entries"]:
        console.print(f"no audit entries for message {message_id} at {platform}")
        raise typer.Exit(1)
    _print_json(result)


async def _record_read(connection: asyncpg.Connection, platform: str, entries: list[dict[str, Any]], via: str) -> None:
    actor = f"cli:{getpass.getuser()}"
    log = adapters.AsyncpgAuditLog(connection)
    for message_id in dict.fromkeys(e["message_id"] for e in entries if e.get("message_id")):
        first = next(e for e in entries if e.get("message_id") == message_id)
        await log.append(HopRecorded(
            event_id=uuid4(), message_id=message_id, correlation_id=first.get("correlation_id"), kind=first.get("kind"),
            hop=Hop.READ, platform=platform, service="pcms-cli", actor=actor, at=datetime.now(UTC),
            detail={"via": via, "entries": sum(1 for e in entries if e.get("message_id") == message_id)}))


def _show(entries: list[dict[str, Any]], fmt: str, body: dict[str, Any]) -> None:
    if fmt == "csv":
        sys.stdout.write(entries_csv(entries))
    else:
        _print_json(body)


@app.command("trail")
def trail(message_id: UUID, platform: Platform = "HUB", fmt: Format = "json") -> None:
    """Every hop of a message (recorded as a read)."""
    platform = platform.upper()

    async def work(connection: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await connection.fetch(
            "SELECT seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail, "
            "recorded_at, content_sha256, leaf_hash, purged_at FROM audit_log WHERE message_id = $1 AND hop <> 'read' "
            f"ORDER BY {adapters.STAGE_ORDER}, at, seq", message_id)
        entries = [adapters.entry_dict(row) for row in rows]
        await _record_read(connection, platform, entries, "pcms audit trail")
        return entries

    entries = _with_db(platform, work)
    if not entries:
        console.print(f"no audit entries for message {message_id} at {platform}")
        raise typer.Exit(1)
    _show(entries, fmt, {"message_id": str(message_id), "platform": platform, "hops": [e["hop"] for e in entries],
                         "entries": entries})


def _day(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("platform")
def platform_activity(
    code: str,
    since: Annotated[str | None, typer.Option(help="From (ISO date or time, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Until (ISO date or time, exclusive).")] = None,
    platform: Platform = "HUB",
    fmt: Format = "json",
    limit: int = 10_000,
) -> None:
    """Everything a platform sent or received in a period (recorded as reads)."""
    platform = platform.upper()

    async def work(connection: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await connection.fetch(
            "SELECT seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail, "
            "recorded_at, content_sha256, leaf_hash, purged_at FROM audit_log WHERE platform = $1 AND hop <> 'read' "
            "AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3) ORDER BY at, seq LIMIT $4",
            code.upper(), _day(since), _day(until), limit)
        entries = [adapters.entry_dict(row) | {"direction": adapters.direction(row["hop"])} for row in rows]
        await _record_read(connection, platform, entries, "pcms audit platform")
        return entries

    entries = _with_db(platform, work)
    _show(entries, fmt, {"platform": code.upper(), "since": since, "until": until, "count": len(entries),
                         "entries": entries})


@app.command("reads")
def reads(message_id: UUID, platform: Platform = "HUB", fmt: Format = "json") -> None:
    """Who read the audit trail of a message, and when."""
    platform = platform.upper()

    async def work(connection: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await connection.fetch(
            "SELECT seq, event_id, message_id, correlation_id, kind, hop, platform, service, actor, at, detail, "
            "recorded_at, content_sha256, leaf_hash, purged_at FROM audit_log WHERE message_id = $1 AND hop = 'read' "
            "ORDER BY at, seq", message_id)
        return [adapters.entry_dict(row) for row in rows]

    entries = _with_db(platform, work)
    _show(entries, fmt, {"message_id": str(message_id), "count": len(entries),
                         "reads": [{"actor": e["actor"], "at": e["at"], "via": (e["detail"] or {}).get("via"),
                                    "seq": e["seq"]} for e in entries]})


def retention_cutoff(policy_file: Path, now: datetime | None = None) -> datetime:
    policy = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    years = int(policy["audit_log"]["keep_content_years"])
    now = now or datetime.now(UTC)
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


@app.command("purge")
def purge(
    before: Annotated[str | None, typer.Option("--before", help="Blank the content of entries before this date "
                                                                "(default: what deploy/audit-retention.yaml allows).")] = None,
    platform: Platform = "HUB",
    policy: Annotated[Path, typer.Option("--policy", help="Retention policy file.")] = DEFAULT_RETENTION,
    force: Annotated[bool, typer.Option("--force", help="Allow a date more recent than the policy's.")] = False,
) -> None:
    """Blank the content of old entries; digests and leaf hashes stay, so proofs and verification stay valid."""
    platform = platform.upper()
    cutoff = retention_cutoff(policy)
    when = cutoff if before is None else _as_time(before)
    if when > cutoff and not force:
        console.print(f"[red]{when.date()} is within the retention period (content is kept until {cutoff.date()}); "
                      f"use --force to purge anyway[/red]")
        raise typer.Exit(2)
    purged = _with_db(platform, lambda connection: adapters.purge_before(connection, when))
    console.print(f"{platform}: content of {purged} entries before {when.isoformat()} purged; digests and leaves kept")


def _as_time(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    except ValueError:
        return _day(text)  # type: ignore[return-value]
