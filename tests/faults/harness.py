"""A federation of real processes that the fault tests can kill, restart and cut off."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx

from shared.federation import Federation

SUBMIT_CONCURRENCY = 16


@dataclass
class Process:
    service: str
    platform: str
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"{self.service}@{self.platform}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.service}", "--platform", self.platform],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def kill9(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()


@dataclass
class Federated:
    federation: Federation
    processes: dict[str, Process]
    postgres_url: str
    database_prefix: str
    log_dir: Path
    sent: dict[str, str] = field(default_factory=dict)  # idempotency key -> message id
    token: str | None = None  # NE's officer's API token (tests/api_users.py)
    throttled: int = 0  # 429s: a careful client waits Retry-After and sends again

    def url(self, code: str) -> str:
        return f"http://127.0.0.1:{self.federation.get(code).api_port}"

    def database(self, code: str) -> str:
        base = self.postgres_url.rsplit("/", 1)[0]
        return f"{base}/{self.database_prefix}{code.lower()}"

    async def fetchval(self, code: str, query: str, *args: object) -> object:
        return (await self.fetchrow(code, query, *args))[0]

    async def fetchrow(self, code: str, query: str, *args: object) -> tuple:
        connection = await asyncpg.connect(self.database(code))
        try:
            return tuple(await connection.fetchrow(query, *args))
        finally:
            await connection.close()

    def outcomes(self) -> Counter[str]:
        """The outcomes of the handled messages' canonical log records, in every service's log, read once."""
        found: Counter[str] = Counter()
        for path in self.log_dir.glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if '"outcome"' in line:
                    with contextlib.suppress(ValueError, AttributeError):
                        outcome = json.loads(line).get("outcome")
                        if isinstance(outcome, str):
                            found[outcome] += 1
        return found

    async def submit(self, count: int, body: dict, *, on_progress=None) -> None:
        """Submits `count` messages to NE like a careful client: retries with the same idempotency key until accepted."""
        keys = [str(uuid4()) for _ in range(count)]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for key in keys:
            queue.put_nowait(key)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx.AsyncClient(base_url=self.url("NE"), timeout=10, headers=headers) as client:
            async def worker() -> None:
                while not queue.empty():
                    key = queue.get_nowait()
                    delay = 0.2
                    while True:
                        try:
                            response = await client.post("/v1/messages", json=body, headers={"Idempotency-Key": key})
                            if response.status_code == 202:
                                self.sent[key] = response.json()["message_id"]
                                if on_progress:
                                    await on_progress(len(self.sent))
                                break
                            if response.status_code not in (409, 429, 500, 502, 503):
                                raise AssertionError(f"unexpected {response.status_code}: {response.text}")
                            if response.status_code == 429:
                                self.throttled += 1
                                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                                continue
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 2.0)

            await asyncio.gather(*(worker() for _ in range(SUBMIT_CONCURRENCY)))

    async def wait_delivered(self, recipients: list[str], *, within: float) -> float:
        """Seconds until every sent message is in every recipient's inbox."""
        started = time.monotonic()
        ids = list(self.sent.values())
        while time.monotonic() - started < within:
            counts = [await self.fetchval(code, "SELECT count(*) FROM inbox_items WHERE message_id = ANY($1::uuid[])", ids)
                      for code in recipients]
            if all(c == len(ids) for c in counts):
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        raise AssertionError(f"not delivered within {within}s: {dict(zip(recipients, counts))} of {len(ids)}")


def environment(amqp_url: str, postgres_url: str, database_prefix: str, federation_file: Path,
                secrets_dir: Path | None = None) -> dict[str, str]:
    return {**os.environ, "AMQP_URL": amqp_url, "DATABASE_URL": postgres_url, "PCMS_DATABASE_PREFIX": database_prefix,
            "PCMS_FEDERATION_FILE": str(federation_file), "PCMS_LOG_FORMAT": "json",
            "PCMS_API_RATE_PER_SECOND": "100000", "PCMS_API_RATE_BURST": "100000",  # faults, not the rate limit
            **({"PCMS_SECRETS_DIR": str(secrets_dir)} if secrets_dir else {})}
