"""The real pipeline: alerts submitted over HTTP at NE until committed in every recipient's inbox and the hub's audit.

Latency of an alert to a recipient: submission (the benchmark's clock just before the POST) to its row
in that recipient's `inbox_items.received_at`; its fan-out latency is the one to the last recipient;
"audited" is until the hub's audit holds the `delivered` hop of every recipient. Everything runs on one
machine, so the clocks agree.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.infra import RunningFederation, infrastructure_cpu
from bench.payloads import wanted_person_alert, write_stolen_vehicles
from bench.stats import fan_out_latencies, latency_summary, per_second

RETRY_STATUSES = (409, 500, 502, 503)


@dataclass
class Submissions:
    submitted: dict[str, float] = field(default_factory=dict)   # message id -> submission time (epoch s)
    accepted_at: list[float] = field(default_factory=list)
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    started: float = 0.0

    def summary(self) -> dict[str, Any]:
        last = max(self.accepted_at, default=self.started)
        return {"submitted": len(self.submitted), "http_retries": self.retries, "http_failures": len(self.failures),
                "accepted_per_second": per_second(len(self.submitted), last - self.started)}


async def submit(clients: Clients, body: dict[str, Any], into: Submissions) -> None:
    """Like a careful client: the same idempotency key until accepted (503 under backpressure, lost connections)."""
    key = str(uuid.uuid4())
    at = time.time()
    delay = 0.05
    payload = orjson.dumps(body)
    for _ in range(200):
        try:
            async with clients.post("/v1/messages", payload, key) as response:
                answer = await response.read()
            if response.status == 202:
                into.submitted[orjson.loads(answer)["message_id"]] = at
                into.accepted_at.append(time.time())
                return
            if response.status not in RETRY_STATUSES:
                into.failures.append(f"{response.status}: {answer[:200].decode(errors='replace')}")
                return
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        into.retries += 1
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
    into.failures.append("gave up after 200 attempts")


class Clients:
    """Up to `most` kept-alive connections to the origin's API: a submission takes a free one, a new one while
    fewer than `most` exist, or waits for one to be returned.

    The load generator runs on the two cores the exchange is measured on, so what it spends is taken from the
    services. httpx spent 2.6-2.7 ms of CPU a submission at 50/s (80 % of it in httpx and httpcore: building the
    request and its URL, h11, assigning each request to a pooled connection); aiohttp's client spends about 1 ms."""

    def __init__(self, fed: RunningFederation, *, most: int) -> None:
        self._base = fed.url(fed.origin)
        self._headers = {**fed.officer_headers(), "Content-Type": "application/json"}
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=most),
            timeout=aiohttp.ClientTimeout(total=30), skip_auto_headers=("User-Agent",))

    def post(self, path: str, payload: bytes, idempotency_key: str) -> Any:
        return self._session.post(self._base + path, data=payload,
                                  headers={**self._headers, "Idempotency-Key": idempotency_key})

    async def __aenter__(self) -> "Clients":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()


async def offered_load(fed: RunningFederation, rate: float, *, duration: float | None = None,
                       until: asyncio.Event | None = None, seed: int = 1,
                       body: Callable[[random.Random], dict[str, Any]] = wanted_person_alert) -> Submissions:
    """Open loop: one submission every 1/rate s whatever the answers, for `duration` s or until `until` is set."""
    rng = random.Random(seed)
    into = Submissions(started=time.time())
    tasks = []
    async with Clients(fed, most=200) as clients:
        start = time.perf_counter()
        i = 0
        while (duration is None or i < rate * duration) and not (until is not None and until.is_set()):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(submit(clients, body(rng), into)))
            i += 1
        await asyncio.gather(*tasks)
    return into


async def closed_load(fed: RunningFederation, concurrency: int, duration: float, *, seed: int = 2) -> Submissions:
    """The maximum: `concurrency` clients submitting back to back for `duration` s."""
    rng = random.Random(seed)
    into = Submissions(started=time.time())
    deadline = time.perf_counter() + duration
    async with Clients(fed, most=concurrency) as clients:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                await submit(clients, wanted_person_alert(rng), into)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return into


async def wait_delivered(fed: RunningFederation, into: Submissions, *, timeout: float) -> dict[str, Any]:
    """Polls the recipients' databases and the hub's audit until every alert is everywhere; the latencies.

    Each poll asks only for the alerts not yet seen there: asking for all of them every half second cost PostgreSQL
    about a seventh of its time while the maximum drained, taken from the pipeline it measures."""
    ids = list(into.submitted)
    recipients = fed.recipients
    hub = fed.federation.hub.code
    started = time.monotonic()
    complete = False
    unseen = {code: set(ids) for code in recipients}
    unaudited, audited_partly, audited_fully = set(ids), {}, 0
    counts: dict[str, int] = {}
    while ids and time.monotonic() - started < timeout:
        for code in recipients:
            if unseen[code]:
                rows = await (await fed.db(code)).fetch(
                    "SELECT message_id FROM inbox_items WHERE message_id = ANY($1::uuid[])", list(unseen[code]))
                unseen[code].difference_update(str(r["message_id"]) for r in rows)
            counts[code] = len(ids) - len(unseen[code])
        if unaudited:
            rows = await (await fed.db(hub)).fetch(
                "SELECT message_id, count(*) AS n FROM audit_log WHERE message_id = ANY($1::uuid[]) "
                "AND hop = 'delivered' GROUP BY message_id", list(unaudited))
            for row in rows:
                message_id = str(row["message_id"])
                if row["n"] >= len(recipients):
                    unaudited.discard(message_id)
                    audited_partly.pop(message_id, None)
                    audited_fully += row["n"]
                else:
                    audited_partly[message_id] = row["n"]
        counts["audit@" + hub] = audited_fully + sum(audited_partly.values())
        if not unaudited and not any(unseen.values()):
            complete = True
            break
        await asyncio.sleep(0.5)
    received: dict[tuple[str, str], float] = {}
    for code in recipients:
        rows = await (await fed.db(code)).fetch(
            "SELECT message_id, received_at FROM inbox_items WHERE message_id = ANY($1::uuid[])", ids)
        received.update({(str(r["message_id"]), code): r["received_at"].timestamp() for r in rows})
    audited_rows = await (await fed.db(hub)).fetch(
        "SELECT message_id, count(*) AS n, max(recorded_at) AS last FROM audit_log "
        "WHERE message_id = ANY($1::uuid[]) AND hop = 'delivered' GROUP BY message_id", ids)
    audited = {str(r["message_id"]): r["last"].timestamp() for r in audited_rows if r["n"] >= len(recipients)}
    fan_out, deliveries = fan_out_latencies(into.submitted, received, recipients)
    audit_ms = [(audited[m] - at) * 1000 for m, at in into.submitted.items() if m in audited]
    last_inbox = {}
    for (message_id, _), at in received.items():
        last_inbox[message_id] = max(last_inbox.get(message_id, 0.0), at)
    done = [max(last_inbox[m], audited[m]) for m in ids if m in audited and m in last_inbox]
    span = (max(done) - into.started) if done else None
    return {
        "complete": complete, "alerts_everywhere": len(done), "counts": counts,
        "sustained_per_second": per_second(len(done), span) if complete else None,
        "seconds_to_last_commit": round(span, 3) if span else None,
        "fan_out_ms": latency_summary(fan_out), "delivery_ms": latency_summary(deliveries),
        "audited_ms": latency_summary(audit_ms),
    }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after.get(name, 0.0) - seconds, 3) for name, seconds in before.items()}


async def measure_load(fed: RunningFederation, *, rate: float | None, duration: float, concurrency: int = 48,
                       drain_timeout: float = 120, during: Callable[[], Any] | None = None) -> dict[str, Any]:
    """One phase: offered `rate` alerts/s (None: the maximum, closed loop) for `duration` s, then drain."""
    cpu_before, infra_before, own_before = fed.cpu(), infrastructure_cpu(), time.process_time()
    if during is not None:
        during()
    if rate is None:
        into = await closed_load(fed, concurrency, duration)
    else:
        into = await offered_load(fed, rate, duration=duration)
    delivered = await wait_delivered(fed, into, timeout=drain_timeout)
    cpu = cpu_delta(cpu_before, fed.cpu())
    infra = cpu_delta(infra_before, infrastructure_cpu())
    own = time.process_time() - own_before
    alerts = delivered["alerts_everywhere"] or 0
    total_cpu = sum(cpu.values())
    everything = total_cpu + sum(infra.values())
    return {
        "offered_per_second": rate if rate is not None else "max", "duration_s": duration,
        **({"clients": concurrency} if rate is None else {}),
        **into.summary(), **delivered,
        "cpu_seconds": cpu, "cpu_seconds_total": round(total_cpu, 3),
        "cpu_ms_per_alert": round(total_cpu / alerts * 1000, 2) if alerts else None,
        "broker_and_database_cpu_seconds": infra,
        "cpu_ms_per_alert_all_processes": round(everything / alerts * 1000, 2) if alerts else None,
        "load_generator_cpu_seconds": round(own, 3),
    }


# ---- bulk import -----------------------------------------------------------------------------------

async def _run(command: list[str], env: dict[str, str] | None = None) -> tuple[int, float, str]:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT, env=env)
    output, _ = await process.communicate()
    return process.returncode or 0, time.perf_counter() - started, output.decode(errors="replace")


async def bulk_import(fed: RunningFederation, work_dir: Path, *, records: int, alert_rate: float,
                      drain_timeout: float) -> dict[str, Any]:
    """`pcms import` of `records` stolen vehicles while alerts arrive at `alert_rate`/s; then the same file again."""
    path = work_dir / f"stolen_vehicles_{records}.csv"
    bad_lines = write_stolen_vehicles(path, records)
    report_path, rejects_path = work_dir / "import_report.json", work_dir / "import_rejects.csv"
    command = [sys.executable, "-m", "shared.cli.main", "import", str(path), "--platform", fed.origin,
               "--kind", "stolen_vehicle", "--url", fed.url(fed.origin), "--no-progress",
               "--report", str(report_path), "--rejects", str(rejects_path)]
    cpu_before = fed.cpu()
    started = time.time()
    finished = asyncio.Event()

    async def importing() -> tuple[int, float, str]:
        try:
            return await _run(command, env={**os.environ, "PCMS_TOKEN": fed.officer_token()})
        finally:
            finished.set()

    (code, seconds, output), alerts = await asyncio.gather(
        importing(), offered_load(fed, alert_rate, until=finished, seed=3))
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    alert_latency = await wait_delivered(fed, alerts, timeout=drain_timeout)
    accepted = report.get("accepted", 0) + report.get("duplicates", 0)
    drained, counts = await _wait_bulk_delivered(fed, accepted, started, drain_timeout)
    cpu = cpu_delta(cpu_before, fed.cpu())
    rerun_code, rerun_seconds, rerun_output = await _run(
        [*command[:-4], "--report", str(work_dir / "import_rerun.json")], env={**os.environ, "PCMS_TOKEN": fed.officer_token()})
    rerun = json.loads((work_dir / "import_rerun.json").read_text()) if (work_dir / "import_rerun.json").exists() else {}
    rejected_lines = [r["line"] for r in report.get("rejects", [])]
    return {
        "records": records, "file": path.name, "exit_code": code,
        "import_seconds": round(seconds, 2), "records_per_second": per_second(records, seconds),
        "accepted": report.get("accepted"), "duplicates": report.get("duplicates"), "rejected": report.get("rejected"),
        "rejects_reported_as_planted": rejected_lines == bad_lines,
        "reject_examples": report.get("rejects", [])[:3],
        "seconds_until_every_recipient_holds_all": drained, "recipient_counts": counts,
        "cpu_seconds_total": round(sum(cpu.values()), 2), "cpu_seconds": cpu,
        "alerts_during_import": {"offered_per_second": alert_rate, **alerts.summary(),
                                 "fan_out_ms": alert_latency["fan_out_ms"], "audited_ms": alert_latency["audited_ms"],
                                 "complete": alert_latency["complete"]},
        "rerun": {"exit_code": rerun_code, "seconds": round(rerun_seconds, 2), "accepted": rerun.get("accepted"),
                  "duplicates": rerun.get("duplicates"), "rejected": rerun.get("rejected")},
        "import_output_tail": output.strip().splitlines()[-3:] if code not in (0, 1) else [],
        "rerun_output_tail": rerun_output.strip().splitlines()[-3:] if rerun_code not in (0, 1) else [],
    }


async def _wait_bulk_delivered(fed: RunningFederation, accepted: int, started: float,
                               timeout: float) -> tuple[float | None, dict[str, int]]:
    """Seconds from the start of the import until every recipient's inbox holds every accepted record."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        for code in fed.recipients:
            counts[code] = await (await fed.db(code)).fetchval(
                "SELECT count(*) FROM inbox_items WHERE origin = $1 AND kind = 'alert' AND priority = 'routine'",
                fed.origin)
        if accepted and all(n >= accepted for n in counts.values()):
            latest = []
            for code in fed.recipients:
                latest.append(await (await fed.db(code)).fetchval(
                    "SELECT max(received_at) FROM inbox_items WHERE origin = $1 AND kind = 'alert' AND priority = 'routine'",
                    fed.origin))
            return round(max(t.timestamp() for t in latest) - started, 2), counts
        await asyncio.sleep(5)  # each poll counts every inbox: taken from the import it measures
    return None, counts
