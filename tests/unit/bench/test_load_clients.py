"""The load generator's HTTP clients: one connection each, never more than asked, reused."""

import asyncio

import pytest

from bench.real_pipeline import Clients

pytestmark = pytest.mark.unit


class Federation:
    origin = "NE"

    def url(self, code: str) -> str:
        return "http://127.0.0.1:1"

    def officer_headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer test"}


async def test_submissions_beyond_the_most_clients_wait_for_one_to_be_returned_and_reuse_it() -> None:
    async with Clients(Federation(), most=2) as clients:
        first, second = clients.one(), clients.one()
        a, b = await first.__aenter__(), await second.__aenter__()
        third = asyncio.create_task(clients.one().__aenter__())
        await asyncio.sleep(0.01)
        assert not third.done() and clients.made == 2
        await first.__aexit__(None, None, None)
        assert await asyncio.wait_for(third, timeout=1) is a
        assert a is not b and clients.made == 2


async def test_a_client_returned_is_taken_again_before_a_new_one_is_made() -> None:
    async with Clients(Federation(), most=10) as clients:
        for _ in range(5):
            async with clients.one():
                pass
        assert clients.made == 1
