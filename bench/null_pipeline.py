"""The null pipeline: the real topology, durability and message sizes with no-op handlers.

Every broker hop of one alert, as the real services make them, with handlers that do nothing but
publish what the real one would publish (same exchanges, routing keys and body sizes, persistent,
confirmed, mandatory) and ack:

    intake NE   -> pcms.platform.NE  message + hops accepted, published
    enrichment  <- hub.ingress.*.urgent    -> pcms.hub.enriched + hop enriched
    routing     <- hub.routing.urgent      -> pcms.delivery, one copy per recipient + RoutingDecided + hop routed
    intake P    <- inbox.P.urgent          -> hop delivered + receipt (acknowledgement) + its hops accepted, published
    (the receipts go round the same way back to NE)
    audit P     <- audit.P                 (every hop, through the topology's exchange-to-exchange bindings)

Hops leave as the outbox relay sends them: those recorded while the previous round was being confirmed,
joined in one message per exchange (shared.messaging.batches.py).

One process per service with its own connection, like the real federation. The figure is the ceiling
of the design: what the real services could reach if their handlers cost nothing.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any

from shared.messaging import names

PREFETCH = 64          # ServiceSettings.prefetch
PUBLISH_WINDOW = 200   # ServiceSettings.relay_batch: the relay publishes a batch side by side
LANE = names.URGENT


@dataclass(frozen=True)
class NullService:
    name: str
    role: str
    platform: str
    queues: tuple[str, ...]


def services_for(active: list[str], hub: str) -> list[NullService]:
    found = [
        NullService(f"enrichment@{hub}", "enrichment", hub, tuple(names.hub_ingress_queue(p, LANE) for p in active)),
        NullService(f"routing@{hub}", "routing", hub, (names.hub_routing_queue(LANE),)),
    ]
    for code in active:
        found.append(NullService(f"intake@{code}", "intake", code, (names.inbox_queue(code, LANE),)))
        found.append(NullService(f"audit@{code}", "audit", code, (names.audit_queue(code),)))
    return found


def expected_hub_audit(recipients: int) -> int:
    """Audit entries at the hub per alert: accepted, published, enriched, routed, one delivered per recipient,
    and for each recipient's receipt accepted, published, enriched, routed, delivered."""
    return 4 + 6 * recipients


def _run(service: NullService, url: str, active: list[str], origin: str, samples: dict[str, bytes], alerts: int,
         slot: int, counters, ready, go, stop, results) -> None:  # noqa: ANN001
    import aio_pika

    async def main() -> None:
        connection = await aio_pika.connect(url, client_properties={"connection_name": f"bench-null-{service.name}"})
        publishing = await connection.channel(publisher_confirms=True)
        exchanges: dict[str, Any] = {}
        published = 0
        delivered: dict[str, float] = {}

        async def publish(exchange: str, key: str, body: bytes, kind: str, headers: dict[str, Any]) -> None:
            nonlocal published
            if exchange not in exchanges:
                exchanges[exchange] = await publishing.get_exchange(exchange, ensure=False)
            await exchanges[exchange].publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, type=kind, headers=headers,
                                 content_type="application/json"),
                routing_key=key, mandatory=True)
            published += 1

        hops: dict[str, int] = {}
        hops_waiting = asyncio.Event()

        async def hop(exchange: str, name: str, headers: dict[str, Any]) -> None:
            hops[exchange] = hops.get(exchange, 0) + 1
            hops_waiting.set()

        async def relay_hops() -> None:
            """As the real outbox relay: the hops recorded while the last round was confirmed leave joined."""
            while True:
                await hops_waiting.wait()
                hops_waiting.clear()
                taken = dict(hops)
                hops.clear()
                await asyncio.gather(*(
                    publish(exchange, names.HOPS_KEY, b'{"batch_id":"","hops":[' + b",".join([samples["hop"]] * n) + b"]}",
                            "hops", {"x-hops": n}) for exchange, n in taken.items()))

        hop_relay = asyncio.ensure_future(relay_hops())

        own = names.platform_exchange(service.platform)

        async def handle(message) -> None:  # noqa: ANN001
            h = dict(message.headers or {})
            kind = h.get("x-kind")
            if service.role == "enrichment":
                body = samples["enriched" if kind == "alert" else "receipt_enriched"]
                await asyncio.gather(publish(names.HUB_ENRICHED, names.enriched_key(LANE, kind), body, "enriched", h),
                                     hop(names.AUDIT, "enriched", h))
            elif service.role == "routing":
                sender = h["x-origin"]
                if kind == "alert":
                    to, body = [p for p in active if p != sender], samples["dispatched"]
                else:
                    to, body = [h["x-alert-origin"]], samples["receipt_dispatched"]
                await asyncio.gather(
                    *(publish(names.DELIVERY, names.delivery_key(p, LANE), body, "dispatched", h) for p in to),
                    publish(names.DELIVERY, names.delivery_key(sender, LANE), samples["decided"], "decided", h),
                    hop(names.AUDIT, "routed", h))
            elif service.role == "intake" and message.type == "dispatched":
                now = time.time()
                counters[2 * slot] += 1
                counters[2 * slot + 1] = now
                if kind == "alert":
                    delivered[h["x-id"]] = now - float(h["x-t0"])
                    receipt = {**h, "x-kind": "acknowledgement", "x-origin": service.platform,
                               "x-alert-origin": h["x-origin"]}
                    await asyncio.gather(
                        hop(own, "delivered", h),
                        publish(own, names.message_key("acknowledgement", "urgent", LANE), samples["receipt"],
                                "message", receipt),
                        hop(own, "accepted", receipt), hop(own, "published", receipt))
                else:
                    await hop(own, "delivered", h)
            elif service.role == "audit":
                counters[2 * slot] += int(h.get("x-hops", 1))
                counters[2 * slot + 1] = time.time()

        async def on_message(message) -> None:  # noqa: ANN001
            async with message.process(requeue=True):
                await handle(message)

        for queue_name in service.queues:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=PREFETCH)
            queue = await channel.get_queue(queue_name, ensure=False)
            await queue.consume(on_message)
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.05)
        if alerts:
            window = asyncio.Semaphore(PUBLISH_WINDOW)

            async def one(i: int) -> None:
                h = {"x-kind": "alert", "x-origin": service.platform, "x-id": str(i), "x-t0": repr(time.time())}  # text: AMQP floats may be 32-bit
                try:
                    await asyncio.gather(
                        publish(own, names.message_key("alert", "urgent", LANE), samples["message"], "message", h),
                        hop(own, "accepted", h), hop(own, "published", h))
                finally:
                    window.release()

            tasks = []
            for i in range(alerts):
                await window.acquire()
                tasks.append(asyncio.ensure_future(one(i)))
            await asyncio.gather(*tasks)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        hop_relay.cancel()
        results.put((service.name, published, delivered))
        await connection.close()

    asyncio.run(main())


def measure(url: str, *, active: list[str], hub: str, origin: str, alerts: int, samples: dict[str, bytes],
            timeout: float = 600) -> dict[str, Any]:
    """Alerts a second through the null pipeline until every recipient and the hub's audit hold everything."""
    from bench.stats import latency_summary

    context = mp.get_context("spawn")
    services = services_for(active, hub)
    recipients = [p for p in active if p != origin]
    counters = context.Array("d", 2 * len(services), lock=True)
    go, stop, results = context.Event(), context.Event(), context.Queue()
    readies, processes = [], []
    for slot, service in enumerate(services):
        ready = context.Event()
        count = alerts if service.role == "intake" and service.platform == origin else 0
        process = context.Process(target=_run, daemon=True, args=(
            service, url, active, origin, samples, count, slot, counters, ready, go, stop, results))
        process.start()
        readies.append(ready)
        processes.append(process)
    try:
        for ready, service, process in zip(readies, services, processes):
            deadline = time.time() + 180
            while not ready.wait(0.5):
                if not process.is_alive() or time.time() > deadline:
                    raise RuntimeError(f"null service {service.name} did not start (exit code {process.exitcode})")
        slot_of = {s.name: i for i, s in enumerate(services)}
        want = {f"intake@{p}": alerts for p in recipients}
        want[f"intake@{origin}"] = alerts * len(recipients)
        want[f"audit@{hub}"] = alerts * expected_hub_audit(len(recipients))
        started = time.time()
        go.set()
        complete = False
        while time.time() - started < timeout:
            if all(counters[2 * slot_of[name]] >= n for name, n in want.items()):
                complete = True
                break
            time.sleep(0.05)
        finished = max(counters[2 * slot_of[name] + 1] for name in want)
        counts = {s.name: int(counters[2 * i]) for i, s in enumerate(services)}
        stop.set()
        collected = [results.get(timeout=60) for _ in services]
    finally:
        stop.set()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    publishes = sum(p for _, p, _ in collected)
    by_alert: dict[str, list[float]] = {}  # each intake measured delivered - t0 (the publisher's clock stamp)
    for _, _, got in collected:
        for message_id, latency in got.items():
            by_alert.setdefault(message_id, []).append(latency * 1000)
    per_delivery = [latency for latencies in by_alert.values() for latency in latencies]
    fan_out = [max(latencies) for latencies in by_alert.values() if len(latencies) == len(recipients)]
    seconds = finished - started
    return {
        "alerts": alerts, "recipients": recipients, "complete": complete, "counts": counts,
        "seconds": round(seconds, 3),
        "alerts_per_second": round(alerts / seconds, 1) if complete and seconds > 0 else None,
        "broker_publishes_per_alert": round(publishes / alerts, 1) if alerts else None,
        "broker_publishes_per_second": round(publishes / seconds, 1) if seconds > 0 else None,
        "fan_out_ms": latency_summary(fan_out),
        "delivery_ms": latency_summary(per_delivery),
        "prefetch": PREFETCH, "publish_window": PUBLISH_WINDOW,
        "message_bytes": {name: len(body) for name, body in samples.items()},
    }
