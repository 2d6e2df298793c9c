"""The benchmark's load generator against an HTTP server on the loopback: never more connections than asked, kept
alive and reused, and a careful client's retries (same idempotency key until accepted)."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bench.real_pipeline import Clients, Submissions, submit

pytestmark = pytest.mark.integration


@dataclass
class Api:
    """Answers POST /v1/messages: first with the statuses in `refusals`, then 202 with a message id."""

    refusals: list[int] = field(default_factory=list)
    answer_after: float = 0.0
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    keys: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
                headers = {name.lower(): value for name, value in headers.items()}
                await reader.readexactly(int(headers["content-length"]))
                self.keys.append(headers["idempotency-key"])
                number = len(self.keys)
                await asyncio.sleep(self.answer_after)
                status = self.refusals.pop(0) if self.refusals else 202
                body = json.dumps({"message_id": f"m{number}"} if status == 202 else {"detail": "busy"})
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


@dataclass
class Federation:
    api: Api
    origin: str = "NE"

    def url(self, code: str) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    def officer_headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer test"}


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    api = Api()
    server = await asyncio.start_server(api.serve, "127.0.0.1", 0)
    api.port = server.sockets[0].getsockname()[1]
    async with server:
        yield api


async def test_submissions_beyond_the_most_connections_wait_for_one_and_every_one_is_accepted(api: Api) -> None:
    api.answer_after = 0.05
    into = Submissions()
    async with Clients(Federation(api), most=2) as clients:
        await asyncio.gather(*(submit(clients, {"n": n}, into) for n in range(6)))
    assert len(into.submitted) == 6 and not into.failures
    assert api.most_open == 2 and api.connections == 2


async def test_one_submitter_after_another_reuses_one_kept_alive_connection(api: Api) -> None:
    into = Submissions()
    async with Clients(Federation(api), most=10) as clients:
        for n in range(5):
            await submit(clients, {"n": n}, into)
    assert len(into.submitted) == 5 and api.connections == 1


async def test_a_refused_submission_is_sent_again_with_the_same_idempotency_key_until_accepted(api: Api) -> None:
    api.refusals = [503, 409]
    into = Submissions()
    async with Clients(Federation(api), most=1) as clients:
        await submit(clients, {"n": 1}, into)
    assert list(into.submitted) == ["m3"] and into.retries == 2
    assert len(api.keys) == 3 and len(set(api.keys)) == 1


async def test_a_submission_refused_for_good_is_a_failure_and_is_not_sent_again(api: Api) -> None:
    api.refusals = [422]
    into = Submissions()
    async with Clients(Federation(api), most=1) as clients:
        await submit(clients, {"n": 1}, into)
    assert not into.submitted and into.failures == ['422: {"detail": "busy"}'] and len(api.keys) == 1
