"""The raw broker ceiling: one pipelined publisher and one consumer on a persistent quorum queue.

Then the floor of one hop: messages published one at a time, each confirmed before the next, and the time
from its publish to its delivery. Every hop of the pipeline pays at least this.

Publisher confirms with a window of CONFIRM_WINDOW messages in flight, consumer prefetch PREFETCH,
acking each message; persistent messages of the size of a real alert. Publisher and consumer are
separate processes with their own connections, like the services.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from typing import Any

from bench.stats import latency_summary

CONFIRM_WINDOW = 500
PREFETCH = 300
QUEUE = "bench.raw"
HOP_MESSAGES = 200
HOP_SPACING_SECONDS = 0.01


async def _declare(channel) -> Any:  # noqa: ANN001
    return await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})


def _publisher(url: str, count: int, size: int, go, results) -> None:  # noqa: ANN001
    import aio_pika

    async def run() -> None:
        connection = await aio_pika.connect(url, client_properties={"connection_name": "bench-raw-publisher"})
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await _declare(channel)
            body = b"x" * size
            window = asyncio.Semaphore(CONFIRM_WINDOW)
            go.wait()
            started = time.time()

            async def one(i: int) -> None:
                try:
                    await channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(i)),
                        routing_key=QUEUE)
                finally:
                    window.release()

            tasks = []
            for i in range(count):
                await window.acquire()
                tasks.append(asyncio.ensure_future(one(i)))
            await asyncio.gather(*tasks)
            results.put(("publisher", started, time.time()))

    asyncio.run(run())


def _consumer(url: str, count: int, ready, results) -> None:  # noqa: ANN001
    import aio_pika

    async def run() -> None:
        connection = await aio_pika.connect(url, client_properties={"connection_name": "bench-raw-consumer"})
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            queue = await _declare(channel)
            done = asyncio.Event()
            seen = 0
            first = last = 0.0

            async def on_message(message) -> None:  # noqa: ANN001
                nonlocal seen, first, last
                await message.ack()
                seen += 1
                last = time.time()
                if seen == 1:
                    first = last
                if seen >= count:
                    done.set()

            await queue.consume(on_message)
            ready.set()
            await asyncio.wait_for(done.wait(), timeout=600)
            results.put(("consumer", first, last))

    asyncio.run(run())


def measure(url: str, *, count: int, size: int) -> dict[str, Any]:
    """Messages a second through the broker alone (end to end and publish side)."""
    context = mp.get_context("spawn")
    ready, go, results = context.Event(), context.Event(), context.Queue()
    consumer = context.Process(target=_consumer, args=(url, count, ready, results), daemon=True)
    publisher = context.Process(target=_publisher, args=(url, count, size, go, results), daemon=True)
    consumer.start()
    if not ready.wait(60):
        consumer.kill()
        raise RuntimeError("raw consumer did not start")
    publisher.start()
    time.sleep(0.5)  # the publisher connects and declares before the clock starts
    go.set()
    found = {}
    for _ in range(2):
        role, first, last = results.get(timeout=900)
        found[role] = (first, last)
    publisher.join(30)
    consumer.join(30)
    started = found["publisher"][0]
    end_to_end = found["consumer"][1] - started
    published = found["publisher"][1] - started
    return {
        "messages": count, "message_bytes": size, "confirm_window": CONFIRM_WINDOW, "prefetch": PREFETCH,
        "queue": "quorum, durable, persistent messages",
        "seconds": round(end_to_end, 3),
        "messages_per_second": round(count / end_to_end, 1) if end_to_end > 0 else None,
        "publish_confirmed_per_second": round(count / published, 1) if published > 0 else None,
    }


async def _hop_latency(url: str, count: int, size: int) -> dict[str, Any]:
    import aio_pika

    publishing = await aio_pika.connect(url, client_properties={"connection_name": "bench-hop-publisher"})
    consuming = await aio_pika.connect(url, client_properties={"connection_name": "bench-hop-consumer"})
    async with publishing, consuming:
        channel = await publishing.channel(publisher_confirms=True)
        receiving = await consuming.channel()
        queue = await _declare(receiving)
        sent_at: dict[str, float] = {}
        delivered_ms: list[float] = []
        all_in = asyncio.Event()

        async def on_message(message) -> None:  # noqa: ANN001
            delivered_ms.append((time.perf_counter() - sent_at[message.message_id]) * 1000)
            await message.ack()
            if len(delivered_ms) >= count:
                all_in.set()

        await queue.consume(on_message)
        confirmed_ms = []
        body = b"x" * size
        for i in range(count):
            message_id = f"hop-{i}"
            sent_at[message_id] = started = time.perf_counter()
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message_id),
                routing_key=QUEUE)
            confirmed_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(HOP_SPACING_SECONDS)
        await asyncio.wait_for(all_in.wait(), timeout=60)
    return {"messages": count, "confirmed_ms": latency_summary(confirmed_ms),
            "delivered_ms": latency_summary(delivered_ms)}


def hop_latency(url: str, *, count: int = HOP_MESSAGES, size: int) -> dict[str, Any]:
    """One message at a time through the same kind of queue: publish to confirm, and publish to delivery (ms)."""
    return asyncio.run(_hop_latency(url, count, size))
