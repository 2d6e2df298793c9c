"""Waiting for what arrives on a queue, for tests that watch the real broker."""

import asyncio

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage


async def next_message(channel: AbstractChannel, queue_name: str, timeout: float = 10.0) -> AbstractIncomingMessage:
    queue = await channel.get_queue(queue_name, ensure=False)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing arrived on {queue_name} within {timeout}s")
