"""`pcms run`: every service of every active platform and the hub, as separate processes."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer
from rich.console import Console

from shared.cli.options import DEFAULT_FEDERATION, FederationFile
from shared.cli.db import migrate
from shared.cli.broker import secrets_dir_or_default
from shared.cli.options import amqp_url
from shared.security.provisioning import provision
from shared.security.keys import ensure_signing_keys
from shared.federation import Federation, load_federation

AUDIT_PORT_OFFSET = 100
MATCHING_PORT_OFFSET = 200  # EnrichmentSettings.api_port_offset


@dataclass
class ServiceProcess:
    service: str
    platform: str
    port: int | None
    process: subprocess.Popen | None = None


def plan(federation: Federation) -> list[ServiceProcess]:
    hub = federation.hub.code
    planned = [
        ServiceProcess("enrichment", hub, federation.hub.api_port + MATCHING_PORT_OFFSET),
        ServiceProcess("routing", hub, None),
    ]
    for platform in federation.active_platforms:
        planned.append(ServiceProcess("intake", platform.code, platform.api_port))
        planned.append(ServiceProcess("audit", platform.code, platform.api_port + AUDIT_PORT_OFFSET))
    return planned


def start(planned: list[ServiceProcess], federation_file: Path, log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PCMS_FEDERATION_FILE": str(federation_file), "PCMS_LOG_FORMAT": "json"}
    for item in planned:
        log_file = open(log_dir / f"{item.service}-{item.platform}.log", "ab")
        item.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{item.service}", "--platform", item.platform],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_healthy(planned: list[ServiceProcess], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    waiting = [p for p in planned if p.port]
    while waiting and time.monotonic() < deadline:
        for item in list(waiting):
            if item.process and item.process.poll() is not None:
                return [f"{item.service}@{item.platform} exited with {item.process.returncode}"]
            try:
                if httpx.get(f"http://127.0.0.1:{item.port}/healthz", timeout=1).status_code == 200:
                    waiting.remove(item)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    return [f"{p.service}@{p.platform} not healthy after {timeout:.0f}s" for p in waiting]


def stop(planned: list[ServiceProcess], grace: float = 10) -> None:
    for item in planned:
        if item.process and item.process.poll() is None:
            item.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for item in planned:
        if item.process:
            try:
                item.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                item.process.kill()


def run(
    federation_file: FederationFile = DEFAULT_FEDERATION,
    log_dir: Path = typer.Option(Path(".run/logs"), help="Where each service writes its log."),
) -> None:
    """Start the federation: topology, migrations, then every service; Ctrl-C (or SIGTERM) stops everything."""
    console = Console()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # a supervisor's stop must not orphan the services
    federation = load_federation(federation_file)
    os.environ["PCMS_SECRETS_DIR"] = str(secrets_dir_or_default().resolve())  # every service connects as its own user
    console.print(provision(federation, amqp_url=amqp_url(), secrets_dir=Path(os.environ["PCMS_SECRETS_DIR"])).summary())
    created = ensure_signing_keys(federation_file, Path(os.environ["PCMS_SECRETS_DIR"]))  # every service signs
    if created:
        console.print(f"signing keys created: {', '.join(created)}")
    migrate(federation_file)
    planned = plan(federation)
    start(planned, federation_file.resolve(), log_dir)
    try:
        problems = wait_healthy(planned, timeout=180)  # enrichment loads the regional index before it is healthy
        if problems:
            console.print("[red]" + "\n".join(problems) + f"[/red]\nlogs: {log_dir}/")
            raise typer.Exit(1)
        console.print("PCMS federation running:")
        for platform in federation.platforms:
            if platform.is_active:
                console.print(f"  {platform.code:<4} {platform.name:<20} API http://127.0.0.1:{platform.api_port}/docs"
                              f"   audit http://127.0.0.1:{platform.api_port + AUDIT_PORT_OFFSET}/docs")
            else:
                console.print(f"  {platform.code:<4} {platform.name:<20} {platform.status.value}: not started")
        console.print(f"  matching API (hub)        http://127.0.0.1:{federation.hub.api_port + MATCHING_PORT_OFFSET}/docs")
        console.print(f"RabbitMQ management UI: http://127.0.0.1:15672 (operator: {federation.operator_broker_user}, "
                      f"password in {os.environ['PCMS_SECRETS_DIR']}/broker/)")
        console.print(f"logs: {log_dir}/   Ctrl-C stops everything.")
        while all(p.process and p.process.poll() is None for p in planned):
            time.sleep(0.5)
        dead = [f"{p.service}@{p.platform}" for p in planned if p.process and p.process.poll() is not None]
        console.print(f"[red]stopped: {', '.join(dead)} exited; see {log_dir}/[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stop(planned)


def _stop_on_sigterm(*_: object) -> None:
    raise KeyboardInterrupt
