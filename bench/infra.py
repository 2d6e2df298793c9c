"""Where the benchmark runs: its own RabbitMQ vhost and its own databases, and the real service processes.

Like the test suite (tests/conftest.py, tests/faults/conftest.py): the broker and PostgreSQL named by
AMQP_URL / DATABASE_URL, the local ones otherwise; everything the benchmark makes is removed after it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import asyncpg
import httpx
import yaml
from pydantic import SecretStr

from shared.cli.run import AUDIT_PORT_OFFSET, MATCHING_PORT_OFFSET, ServiceProcess, plan, start, stop, wait_healthy
from shared.cli.users import issue_token
from shared.db.connect import database_dsn, ensure_database
from shared.federation import Federation, load_federation
from shared.security.keys import ensure_signing_keys
from shared.security.provisioning import HttpBrokerAdmin, ManagementAccess, provision, remove_users

MEMBERS = {"MR": ("Mauritania", "Nouakchott"), "ML": ("Mali", "Bamako"), "BF": ("Burkina Faso", "Ouagadougou"),
           "NE": ("Niger", "Niamey"), "TD": ("Chad", "N'Djamena")}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Broker:
    amqp_url: str
    management_url: str
    user: str
    password: str

    @classmethod
    def from_environment(cls) -> Broker:
        url = os.environ.get("AMQP_URL") or os.environ.get("PCMS_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
        parts = urlsplit(url)
        management = os.environ.get("RABBITMQ_MANAGEMENT_URL", f"http://{parts.hostname}:15672")
        return cls(urlunsplit((parts.scheme, parts.netloc, "/", "", "")), management,
                   parts.username or "guest", parts.password or "guest")

    def vhost_url(self, vhost: str) -> str:
        parts = urlsplit(self.amqp_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))

    def admin_access(self) -> ManagementAccess:
        return ManagementAccess(self.management_url, self.user, SecretStr(self.password))

    def _api(self) -> httpx.Client:
        return httpx.Client(base_url=self.management_url, auth=(self.user, self.password), timeout=300)

    def create_vhost(self, vhost: str) -> str:
        with self._api() as api:
            api.put(f"/api/vhosts/{quote(vhost, safe='')}").raise_for_status()
            api.put(f"/api/permissions/{quote(vhost, safe='')}/{self.user}",
                    json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        return self.vhost_url(vhost)

    def delete_vhost(self, vhost: str) -> None:
        with self._api() as api:
            api.delete(f"/api/vhosts/{quote(vhost, safe='')}")

    def headroom(self) -> dict[str, Any]:
        """The broker's file descriptors in use and its limit, and the vhosts earlier runs left (`--keep`)."""
        with self._api() as api:
            nodes = api.get("/api/nodes", params={"columns": "fd_used,fd_total"})
            vhosts = api.get("/api/vhosts", params={"columns": "name"})
            nodes.raise_for_status()
            vhosts.raise_for_status()
        # Just after the management plugin starts, a node's entry may not be its object of figures yet.
        node = next((entry for entry in nodes.json() if isinstance(entry, dict)), {})
        return {"file_descriptors_used": node.get("fd_used"), "file_descriptors_limit": node.get("fd_total"),
                "bench_vhosts_left": sorted(v["name"] for v in vhosts.json() if v["name"].startswith("bench-"))}

    def queued(self, vhost: str) -> dict[str, int]:
        """Messages in each queue of the vhost (ready + unacked), as the management API last sampled them."""
        with self._api() as api:
            response = api.get(f"/api/queues/{quote(vhost, safe='')}", params={"columns": "name,messages"})
            response.raise_for_status()
            return {q["name"]: int(q.get("messages") or 0) for q in response.json()}


FILE_DESCRIPTOR_SHARE = 0.5


def headroom_warning(headroom: dict[str, Any]) -> str | None:
    """Why this run may hang before it starts: every quorum queue holds files open, and a broker out of file
    descriptors takes new connections and never answers them (the services then log broker_connect_failed)."""
    used, limit = headroom.get("file_descriptors_used") or 0, headroom.get("file_descriptors_limit") or 0
    left = headroom.get("bench_vhosts_left") or []
    if not left and not (limit and used > FILE_DESCRIPTOR_SHARE * limit):
        return None
    found = f"the broker uses {used} of its {limit} file descriptors"
    if left:
        found += f"; earlier runs left {len(left)} vhosts ({', '.join(left[:5])}{', ...' if len(left) > 5 else ''})"
        found += ": remove them with `rabbitmqctl delete_vhost NAME`"
    return found


LOCAL_SOCKET_DIR = Path("/var/run/postgresql")


def local_socket_dir() -> Path | None:
    return LOCAL_SOCKET_DIR if (LOCAL_SOCKET_DIR / ".s.PGSQL.5432").exists() else None


def database_url() -> str:
    """DATABASE_URL when set; else the local server through its Unix socket, as services beside their database would
    be configured (a statement's round trip over loopback TCP costs this machine measurably more); else over TCP."""
    if configured := os.environ.get("DATABASE_URL") or os.environ.get("PCMS_DATABASE_URL"):
        return configured
    if (socket_dir := local_socket_dir()) is not None:
        return f"postgresql://postgres@/postgres?host={socket_dir}"
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def database_transport(url: str) -> str:
    """How the services reach PostgreSQL, for the results: the socket directory or host:port (no credentials)."""
    parts = urlsplit(url)
    socket_dir = next((value for key, value in parse_qsl(parts.query) if key == "host"), None)
    return f"unix socket in {socket_dir}" if socket_dir else f"tcp {parts.hostname}:{parts.port or 5432}"


async def drop_databases(server_url: str, prefix: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%")
        for row in rows:
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()


def free_api_ports(codes: Iterable[str]) -> dict[str, int]:
    """An API port for each platform, with its audit and matching ports (API + offsets) free too, and no platform's
    three ports among another's (they once met: the hub's API on a member's audit port). The benchmark's, the e2e
    and the fault federations take their ports from here."""
    taken: set[int] = set()
    return {code: _free_api_port(taken) for code in codes}


def _free_api_port(taken: set[int]) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        group = {port, port + AUDIT_PORT_OFFSET, port + MATCHING_PORT_OFFSET}
        if port + MATCHING_PORT_OFFSET >= 65535 or group & taken:
            continue
        try:
            for offset in (AUDIT_PORT_OFFSET, MATCHING_PORT_OFFSET):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        taken |= group
        return port


def write_federation(path: Path, active_members: list[str], broker_user_prefix: str = "pcms-") -> Path:
    ports = free_api_ports(["HUB", *MEMBERS])
    platforms = [{"code": "HUB", "role": "hub", "name": "Regional Platform", "city": "Nouakchott", "country": "MR",
                  "status": "active", "api_port": ports["HUB"]}]
    for code, (name, city) in MEMBERS.items():
        platforms.append({"code": code, "role": "member", "name": name, "city": city, "country": code,
                          "status": "active" if code in active_members else "withdrawn", "api_port": ports[code]})
    path.write_text(yaml.safe_dump({"version": 1, "platforms": platforms, "broker_user_prefix": broker_user_prefix}),
                    encoding="utf-8")
    return path


# ---- process figures from /proc -----------------------------------------------------------------

def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU of a process (its threads included); with `reaped_children`, also that of its children
    that have exited and been waited for."""
    try:
        return stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), reaped_children=reaped_children)
    except OSError:
        return 0.0


def stat_cpu_seconds(stat: str, *, reaped_children: bool = False) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of /proc/PID/stat)
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (16, 17)
    return ticks / CLOCK_TICKS


INFRASTRUCTURE_COMMANDS = {"beam.smp": "rabbitmq", "postgres": "postgresql"}


def infrastructure_cpu() -> dict[str, float]:
    """CPU seconds of the broker's and the database server's processes on this host (all of them: the benchmark
    runs alone), so the cost of an alert is counted across every process that carries it."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            found.append(((proc / "comm").read_text().strip(), (proc / "stat").read_text()))
        except OSError:
            continue
    return infrastructure_cpu_of(found)


def infrastructure_cpu_of(processes: list[tuple[str, str]]) -> dict[str, float]:
    """From (command, /proc/PID/stat) of every process. A PostgreSQL backend that exits between two readings
    takes its CPU out of the sum of live processes, so the reaped children of each process are counted too: the
    postmaster's then hold it. Without them a phase's delta could come out negative."""
    totals = dict.fromkeys(INFRASTRUCTURE_COMMANDS.values(), 0.0)
    for command, stat in processes:
        if command in INFRASTRUCTURE_COMMANDS:
            totals[INFRASTRUCTURE_COMMANDS[command]] += stat_cpu_seconds(stat, reaped_children=True)
    return totals


def memory_mb(pid: int) -> dict[str, float]:
    """Resident set now (VmRSS) and its peak over the process's life (VmHWM), in MB."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line[:5]] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return {"rss_mb": found.get("VmRSS"), "peak_rss_mb": found.get("VmHWM")}


# ---- a federation of real service processes -------------------------------------------------------

@dataclass
class RunningFederation:
    federation: Federation
    processes: list[ServiceProcess]
    amqp_url: str
    server_url: str
    prefix: str
    vhost: str
    log_dir: Path
    origin: str = "NE"
    _connections: dict[str, asyncpg.Connection] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # "CODE/role" -> API token (tests/api_users.py)

    def officer_token(self, code: str | None = None) -> str:
        return self.tokens[f"{(code or self.origin).upper()}/officer"]

    def officer_headers(self, code: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.officer_token(code)}"}

    @property
    def recipients(self) -> list[str]:
        """Who receives an alert of the origin: every other active member, and the hub."""
        return [p.code for p in self.federation.active_platforms if p.code != self.origin]

    def url(self, code: str) -> str:
        return f"http://127.0.0.1:{self.federation.get(code).api_port}"

    def dsn(self, code: str) -> str:
        return database_dsn(self.server_url, f"{self.prefix}{code.lower()}")

    async def db(self, code: str) -> asyncpg.Connection:
        if code not in self._connections:
            self._connections[code] = await asyncpg.connect(self.dsn(code))
        return self._connections[code]

    async def close(self) -> None:
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()

    def pids(self) -> dict[str, int]:
        return {f"{p.service}@{p.platform}": p.process.pid for p in self.processes if p.process and p.process.poll() is None}

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids().items()}

    def memory(self) -> dict[str, dict[str, float]]:
        return {name: memory_mb(pid) for name, pid in self.pids().items()}

    def dead(self) -> list[str]:
        return [f"{p.service}@{p.platform}" for p in self.processes if p.process and p.process.poll() is not None]


def start_federation(broker: Broker, work_dir: Path, active_members: list[str], *, timeout: float = 120,
                     extra_env: dict[str, str] | None = None) -> RunningFederation:
    tag = uuid.uuid4().hex[:8]
    vhost, prefix = f"bench-{tag}", f"bench{tag}_"
    amqp_url = broker.create_vhost(vhost)
    server_url = database_url()
    federation_file = write_federation(work_dir / "federation.yaml", active_members, broker_user_prefix=f"bench{tag}-")
    federation = load_federation(federation_file)
    log_dir = work_dir / "logs"
    secrets_dir = (work_dir / "secrets").resolve()
    os.environ.update({"AMQP_URL": amqp_url, "DATABASE_URL": server_url, "PCMS_DATABASE_PREFIX": prefix,
                       "PCMS_SECRETS_DIR": str(secrets_dir),
                       # the bench measures the pipeline, not the per-token rate limit in front of it
                       "PCMS_API_RATE_PER_SECOND": "1000000", "PCMS_API_RATE_BURST": "1000000", **(extra_env or {})})

    async def prepare() -> None:  # the databases exist before several processes race to migrate them
        for platform in federation.active_platforms:
            await ensure_database(server_url, f"{prefix}{platform.code.lower()}")

    asyncio.run(prepare())
    provision(federation, amqp_url=amqp_url, secrets_dir=secrets_dir, access=broker.admin_access())
    ensure_signing_keys(federation_file, secrets_dir)  # every service signs and verifies
    processes = plan(federation)
    running = RunningFederation(federation, processes, amqp_url, server_url, prefix, vhost, log_dir)
    start(processes, federation_file.resolve(), log_dir)
    problems = wait_healthy(processes, timeout=timeout)
    if problems:
        stop_federation(running, broker)
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(log_dir.glob("*.log")))
        raise RuntimeError(f"federation did not start: {problems}\n{logs}")
    running.tokens = asyncio.run(_officer_tokens(server_url, prefix, federation))
    return running


async def _officer_tokens(server_url: str, prefix: str, federation: Federation) -> dict[str, str]:
    """An officer's API token at every active platform: the bench submits and imports as them."""
    return {f"{p.code}/officer": await issue_token(server_url, f"{prefix}{p.code.lower()}", platform=p.code,
                                                   name=f"bench.{p.code.lower()}", role="officer", created_by="bench")
            for p in federation.active_platforms}


def stop_federation(running: RunningFederation, broker: Broker, *, keep: bool = False) -> None:
    stop(running.processes)
    if not keep:
        broker.delete_vhost(running.vhost)
        with HttpBrokerAdmin(broker.admin_access()) as admin:
            remove_users(admin, running.federation.broker_user_prefix)
        asyncio.run(drop_databases(running.server_url, running.prefix))


def wait_idle(broker: Broker, vhost: str, *, timeout: float = 60, ignore: tuple[str, ...] = (".dlq", "quarantine.")) -> float:
    """Seconds until no queue of the vhost holds a message (twice in a row: the management API samples)."""
    started = time.monotonic()
    empty_reads = 0
    while time.monotonic() - started < timeout:
        queued = broker.queued(vhost)
        busy = sum(n for name, n in queued.items() if not any(mark in name for mark in ignore))
        empty_reads = empty_reads + 1 if busy == 0 else 0
        if empty_reads >= 2:
            return round(time.monotonic() - started, 1)
        time.sleep(1)
    return round(time.monotonic() - started, 1)
