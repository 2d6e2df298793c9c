"""`pcms import FILE --platform NE --kind stolen_vehicle`: a file of records into the exchange, on the bulk lane.

The file is CSV (a header row names the columns) or JSON lines (one object a line). Each record is
sent, 500 a request, to the platform's `POST /v1/imports` (services/intake/imports.py), which
validates it as the alert it stands for and accepts it with the idempotency key `<file SHA-256>:<line>`:
running the same file again accepts nothing twice. A line that cannot be read, or that the platform
refuses, is reported with its number and reasons and never stops the rest of the file.

Exit code: 0 when every record was accepted (now or by an earlier run), 1 when some were rejected,
2 when the import could not finish (platform unreachable).
"""

import asyncio
import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from shared.cli.credentials import Token, bearer
from shared.cli.options import DEFAULT_FEDERATION, FederationFile
from shared.federation import load_federation

KINDS = ("stolen_vehicle",)
FORMATS = ("auto", "csv", "jsonl")
MAX_BATCH = 500
EXTRA_COLUMNS = "__extra__"


@dataclass(frozen=True)
class SourceLine:
    """One record of the file with the line it starts on; `error` when the line cannot be read at all."""

    line: int
    record: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Reject:
    line: int
    reasons: list[str]


@dataclass
class ImportReport:
    file: str
    source: str
    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    finished: bool = False

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejected"] = self.rejected
        data["records_per_second"] = round(self.records / self.seconds, 1) if self.seconds else None
        return data


# ---- reading -----------------------------------------------------------------------------------

def file_format(path: Path, requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ValueError(f"cannot tell the format of {path.name} from its name; say --format csv or --format jsonl")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def count_records(path: Path, fmt: str) -> int:
    """Non-blank lines (minus the CSV header): the progress bar's total, exact unless fields span lines."""
    with open(path, "rb") as handle:
        count = sum(1 for line in handle if line.strip())
    return max(0, count - 1) if fmt == "csv" else count


def read_records(lines: Iterable[str], fmt: str) -> Iterator[SourceLine]:
    """Every record with its line number (1-based, as an editor shows it); unreadable lines as errors."""
    if fmt == "csv":
        yield from _read_csv(lines)
    elif fmt == "jsonl":
        yield from _read_jsonl(lines)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def _read_csv(lines: Iterable[str]) -> Iterator[SourceLine]:
    first_line: list[int] = []  # the first non-blank line the reader took since the last record: where it starts

    def numbered() -> Iterator[str]:
        for number, text in enumerate(lines, start=1):
            if not first_line and text.strip():
                first_line.append(number)
            yield text

    reader = csv.DictReader(numbered(), restkey=EXTRA_COLUMNS)
    try:
        header = reader.fieldnames
    except csv.Error as error:
        yield SourceLine(1, error=f"unreadable header: {error}")
        return
    if not header:
        return
    blank = [i + 1 for i, name in enumerate(header) if not (name or "").strip()]
    if blank:
        yield SourceLine(1, error=f"header: column {blank[0]} has no name")
        return
    first_line.clear()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield SourceLine(first_line[0] if first_line else reader.line_num, error=f"unreadable CSV: {error}")
            first_line.clear()
            continue
        start = first_line[0] if first_line else reader.line_num
        first_line.clear()
        if EXTRA_COLUMNS in row:
            yield SourceLine(start, error=f"{len(header) + len(row[EXTRA_COLUMNS])} values for the header's {len(header)} columns")
            continue
        yield SourceLine(start, record={key: value for key, value in row.items() if value is not None})


def _read_jsonl(lines: Iterable[str]) -> Iterator[SourceLine]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            yield SourceLine(number, error=f"not JSON: {error}")
            continue
        if not isinstance(value, dict):
            yield SourceLine(number, error=f"not a JSON object but {type(value).__name__}")
            continue
        yield SourceLine(number, record=value)


def batched(items: Iterable[SourceLine], size: int) -> Iterator[list[SourceLine]]:
    batch: list[SourceLine] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def reasons_of(result: dict[str, Any]) -> list[str]:
    return [f"{problem['path']}: {problem['reason']}" for problem in result.get("problems", [])] or ["rejected"]


# ---- sending -----------------------------------------------------------------------------------

class ImportAborted(RuntimeError):
    pass


async def import_file(
    path: Path,
    *,
    url: str,
    kind: str = "stolen_vehicle",
    fmt: str = "auto",
    batch_size: int = MAX_BATCH,
    concurrency: int = 2,
    defaults: dict[str, Any] | None = None,
    give_up_after: float = 300.0,
    on_progress: Callable[[ImportReport, int], None] = lambda report, done: None,
    token: str | None = None,
) -> ImportReport:
    """Sends the file in batches as the officer whose token is given; `on_progress(report, records_done)` after each batch."""
    fmt = file_format(path, fmt)
    report = ImportReport(file=str(path), source=file_digest(path))
    started = time.perf_counter()
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    failure: list[BaseException] = []

    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=120, headers=bearer(token)) as client:

        async def send(batch: list[SourceLine]) -> None:
            nonlocal done
            readable = [item for item in batch if item.record is not None]
            for item in batch:
                if item.error is not None:
                    report.rejects.append(Reject(item.line, [item.error]))
            attempts = 0
            while readable:
                attempts += 1
                results = await _post(client, kind, report.source, defaults or {}, readable, give_up_after)
                report.requests += 1
                again = {}
                by_line = {item.line: item for item in readable}
                for result in results:
                    status = result["status"]
                    if status == "accepted":
                        report.accepted += 1
                    elif status == "duplicate":
                        report.duplicates += 1
                    elif status == "rejected":
                        report.rejects.append(Reject(result["line"], reasons_of(result)))
                    elif attempts < 10:  # retry: the same line is being accepted by another request
                        again[result["line"]] = by_line[result["line"]]
                    else:
                        report.rejects.append(Reject(result["line"], ["still being accepted by another import"]))
                readable = list(again.values())
                if readable:
                    await asyncio.sleep(0.2 * attempts)
            done += len(batch)
            report.records = done
            on_progress(report, done)

        async def guarded(batch: list[SourceLine]) -> None:
            try:
                await send(batch)
            except BaseException as error:  # noqa: BLE001 - reported once, below
                failure.append(error)
            finally:
                gate.release()

        tasks: set[asyncio.Task] = set()
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            for batch in batched(read_records(handle, fmt), min(batch_size, MAX_BATCH)):
                await gate.acquire()
                if failure:
                    gate.release()
                    break
                task = asyncio.create_task(guarded(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    report.seconds = round(time.perf_counter() - started, 3)
    report.rejects.sort(key=lambda r: r.line)
    if failure:
        raise ImportAborted(str(failure[0])) from failure[0]
    report.finished = True
    return report


async def _post(client: httpx.AsyncClient, kind: str, source: str, defaults: dict[str, Any],
                lines: list[SourceLine], give_up_after: float) -> list[dict[str, Any]]:
    """The platform's per-line results; waits out 503 (Retry-After), 5xx and lost connections."""
    payload = {"kind": kind, "source": source, "records": [{"line": i.line, "record": i.record} for i in lines]}
    if defaults:
        payload["defaults"] = defaults
    deadline = time.monotonic() + give_up_after
    delay = 0.5
    while True:
        problem = ""
        try:
            response = await client.post("/v1/imports", content=orjson.dumps(payload),
                                         headers={"content-type": "application/json"})
            if response.status_code == 200:
                return response.json()["results"]
            if response.status_code == 422:
                raise ImportAborted(f"the platform refused the request itself: {response.text[:500]}")
            problem = f"{response.status_code}: {response.text[:200]}"
            if response.status_code == 503 and response.headers.get("retry-after", "").isdigit():
                delay = float(response.headers["retry-after"])
            elif response.status_code < 500:
                raise ImportAborted(problem)
        except httpx.TransportError as error:
            problem = f"{type(error).__name__}: {error}"
        if time.monotonic() + delay > deadline:
            raise ImportAborted(f"gave up after {give_up_after:.0f}s: {problem}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


# ---- command -----------------------------------------------------------------------------------

def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV or JSON-lines file."),
    platform: str = typer.Option(..., "--platform", help="The platform whose officers submit the records (e.g. NE)."),
    kind: str = typer.Option("stolen_vehicle", "--kind", help=f"What every record is: {', '.join(KINDS)}."),
    fmt: str = typer.Option("auto", "--format", help="csv, jsonl, or auto (from the file name)."),
    url: str | None = typer.Option(None, "--url", envvar="PCMS_INTAKE_URL",
                                   help="The platform's intake API; default from the federation file."),
    batch: int = typer.Option(MAX_BATCH, "--batch", min=1, max=MAX_BATCH, help="Records a request."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=16, help="Requests in flight."),
    source_reliability: str = typer.Option("B", "--source-reliability", help="SIENA evaluation of the source (A-X)."),
    information: str = typer.Option("2", "--information", help="SIENA evaluation of the information (1-4)."),
    rejects_file: Path | None = typer.Option(None, "--rejects", help="Write every rejected line (CSV: line, reason)."),
    report_file: Path | None = typer.Option(None, "--report", help="Write the summary as JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    token: Token = None,
    federation_file: FederationFile = DEFAULT_FEDERATION,
) -> None:
    """Import a file of records as alerts of PLATFORM, on the bulk lane; safe to run again on the same file."""
    console = Console(stderr=True)
    if kind not in KINDS:
        console.print(f"[red]unknown kind {kind!r}; known: {', '.join(KINDS)}[/red]")
        raise typer.Exit(2)
    try:
        fmt = file_format(file, fmt)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if url is None:
        try:
            url = f"http://127.0.0.1:{load_federation(federation_file).get(platform).api_port}"
        except KeyError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    total = count_records(file, fmt)
    defaults = {"evaluation": {"source": source_reliability, "information": information}}
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("[green]{task.fields[accepted]} accepted[/green] [cyan]{task.fields[duplicates]} "
                              "already[/cyan] [red]{task.fields[rejected]} rejected[/red]"),
                   TextColumn("{task.fields[rate]}/s"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=console, disable=not progress, transient=False)
    started = time.perf_counter()
    with bar:
        task = bar.add_task(f"{file.name} -> {platform}", total=total, accepted=0, duplicates=0, rejected=0, rate=0)

        def on_progress(report: ImportReport, done: int) -> None:
            rate = round(done / max(time.perf_counter() - started, 1e-6))
            bar.update(task, completed=done, accepted=report.accepted, duplicates=report.duplicates,
                       rejected=report.rejected, rate=rate)

        try:
            report = asyncio.run(import_file(file, url=url, kind=kind, fmt=fmt, batch_size=batch,
                                             concurrency=concurrency, defaults=defaults, on_progress=on_progress,
                                             token=token))
        except ImportAborted as error:
            console.print(f"[red]import stopped: {error}[/red]\nrun the same command again: "
                          "what was accepted is recognised and not sent twice")
            raise typer.Exit(2) from None
    _summarise(console, report)
    if rejects_file is not None:
        with open(rejects_file, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "reason"])
            for reject in report.rejects:
                writer.writerow([reject.line, "; ".join(reject.reasons)])
    if report_file is not None:
        report_file.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    raise typer.Exit(1 if report.rejects else 0)


def _summarise(console: Console, report: ImportReport, shown: int = 20) -> None:
    rate = f"{report.records / report.seconds:,.0f} records/s" if report.seconds else ""
    console.print(f"{report.records:,} records in {report.seconds:.1f}s ({rate}): {report.accepted:,} accepted, "
                  f"{report.duplicates:,} already imported, {report.rejected:,} rejected")
    if report.rejects:
        table = Table("line", "reason", title=f"rejected lines (first {min(shown, report.rejected)} of {report.rejected})")
        for reject in report.rejects[:shown]:
            table.add_row(str(reject.line), "\n".join(reject.reasons))
        console.print(table)
