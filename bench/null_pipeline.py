"""The null pipeline: the real topology, durability and message sizes with no-op handlers.

Every broker hop of one alert, as the real services make them, with handlers that do nothing but
publish what the real one would publish (same exchanges, routing keys and body sizes, persistent,
confirmed, mandatory) and ack:

    intake NE   -> pcms.platform.NE  message + hops accepted, published
    enrichment  <- hub.ingress.*.urgent    -> hop enriched, then what routing sends: pcms.delivery, one copy per
                                              recipient + RoutingDecided + hop routed (the hub's enrichment routes
                                              in its own transaction, PCMS_ROUTES_IN_PROCESS)
    intake P    <- inbox.P.urgent          -> hop delivered; for every 100th alert a receipt (acknowledgement listing
                                              99 more) + its hops accepted, published, as a busy round of receipts
                                              sends them (services/intake: one receipt confirms up to 100 messages)
    (the receipts go round the same way back to NE)
    audit P     <- audit.P                 (every hop, through the topology's exchange-to-exchange bindings)

Everything leaves as the outbox relay sends it (shared/messaging/batches.py): a round takes what was
recorded while the previous round was being confirmed (up to 200 rows); its hops leave joined in one
message per exchange, its messages for one destination joined in one batch of up to 100 (1.3), and a
batch's handler handles each item.

One process per service with its own connection, like the real federation. The figure is the ceiling
of the design: what the real services could reach if their handlers cost nothing.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any

from shared.contracts.bodies import MAX_ALSO_RECEIVED
from shared.messaging import names

PREFETCH = 64          # ServiceSettings.prefetch
ROUND_ROWS = 200       # ServiceSettings.relay_batch (the null pipeline's rows are all urgent): the rows one relay round takes and publishes side by side
BATCH_ITEMS = 100      # ServiceSettings.relay_batch_items
RECEIPT_ITEMS = MAX_ALSO_RECEIVED + 1  # the messages one receipt confirms when a round of receipts is full
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
    ]
    for code in active:
        found.append(NullService(f"intake@{code}", "intake", code, (names.inbox_queue(code, LANE),)))
        found.append(NullService(f"audit@{code}", "audit", code, (names.audit_queue(code, LANE),)))
    return found


def receipts_per_recipient(alerts: int) -> int:
    return alerts // RECEIPT_ITEMS


def expected_hub_audit(alerts: int, recipients: int) -> int:
    """Audit entries at the hub: for each alert accepted, published, enriched, routed, one delivered per recipient;
    for each receipt accepted, published, enriched, routed, delivered."""
    return alerts * (4 + recipients) + 5 * recipients * receipts_per_recipient(alerts)


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

        rows: list[tuple[tuple[str, str, str, str], dict[str, Any]]] = []  # the outbox: (destination, item headers)
        hops: dict[str, int] = {}
        committed = asyncio.Event()

        def send(exchange: str, key: str, sample: str, kind: str, headers: dict[str, Any]) -> None:
            rows.append(((exchange, key, sample, kind), headers))
            committed.set()

        def hop(exchange: str, name: str, headers: dict[str, Any]) -> None:
            hops[exchange] = hops.get(exchange, 0) + 1
            committed.set()

        async def relay() -> None:
            """As the real outbox relay: a round takes up to ROUND_ROWS rows; the messages of a round for one
            destination leave joined (up to BATCH_ITEMS), the hops of a round joined per exchange."""
            while True:
                await committed.wait()
                committed.clear()
                taken, rows[:] = rows[:ROUND_ROWS], rows[ROUND_ROWS:]
                if rows:
                    committed.set()
                taken_hops = dict(hops)
                hops.clear()
                groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
                for destination, headers in taken:
                    groups.setdefault(destination, []).append(headers)
                going = []
                for (exchange, key, sample, kind), items in groups.items():
                    for start in range(0, len(items), BATCH_ITEMS):
                        chunk = items[start:start + BATCH_ITEMS]
                        if len(chunk) == 1:
                            going.append(publish(exchange, key, samples[sample], kind, chunk[0]))
                        else:
                            body = json.dumps({"batch_id": "", "item_type": kind,
                                               "items": [samples[sample].decode()] * len(chunk)}).encode()
                            going.append(publish(exchange, key, body, kind, {"x-items": json.dumps(chunk)}))
                going += [publish(exchange, names.hops_key(LANE), b'{"batch_id":"","hops":[' + b",".join([samples["hop"]] * n)
                                  + b"]}", "hops", {"x-hops": n}) for exchange, n in taken_hops.items()]
                await asyncio.gather(*going)

        relaying = asyncio.ensure_future(relay())

        own = names.platform_exchange(service.platform)
        alerts_taken_in = [0]

        def handle(kind_of_message: str | None, h: dict[str, Any]) -> None:
            kind = h.get("x-kind")
            if service.role == "enrichment":
                hop(names.AUDIT, "enriched", h)
                sender = h["x-origin"]
                if kind == "alert":
                    to, sample = [p for p in active if p != sender], "dispatched"
                else:
                    to, sample = [h["x-alert-origin"]], "receipt_dispatched"
                for p in to:
                    send(names.DELIVERY, names.delivery_key(p, LANE), sample, "dispatched", h)
                send(names.DELIVERY, names.delivery_key(sender, LANE), "decided", "decided", h)
                hop(names.AUDIT, "routed", h)
            elif service.role == "intake" and kind_of_message == "dispatched":
                now = time.time()
                counters[2 * slot] += 1
                counters[2 * slot + 1] = now
                hop(own, "delivered", h)
                if kind == "alert":
                    delivered[h["x-id"]] = now - float(h["x-t0"])
                    alerts_taken_in[0] += 1
                    if alerts_taken_in[0] % RECEIPT_ITEMS:
                        return
                    receipt = {**h, "x-kind": "acknowledgement", "x-origin": service.platform,
                               "x-alert-origin": h["x-origin"]}
                    send(own, names.message_key("acknowledgement", "urgent", LANE), "receipt", "message", receipt)
                    hop(own, "accepted", receipt)
                    hop(own, "published", receipt)
            elif service.role == "audit":
                counters[2 * slot] += int(h.get("x-hops", 1))
                counters[2 * slot + 1] = time.time()

        async def on_message(message) -> None:  # noqa: ANN001
            async with message.process(requeue=True):
                headers = dict(message.headers or {})
                for item in json.loads(headers["x-items"]) if "x-items" in headers else [headers]:
                    handle(message.type, item)

        for queue_name in service.queues:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=PREFETCH)
            queue = await channel.get_queue(queue_name, ensure=False)
            await queue.consume(on_message)
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.05)
        for i in range(alerts):  # as intake commits them: the relay takes them a round at a time
            h = {"x-kind": "alert", "x-origin": service.platform, "x-id": str(i), "x-t0": repr(time.time())}  # text: AMQP floats may be 32-bit
            send(own, names.message_key("alert", "urgent", LANE), "message", "message", h)
            hop(own, "accepted", h)
            hop(own, "published", h)
            if i % ROUND_ROWS == ROUND_ROWS - 1:
                await asyncio.sleep(0)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        relaying.cancel()
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
        want[f"intake@{origin}"] = receipts_per_recipient(alerts) * len(recipients)
        want[f"audit@{hub}"] = expected_hub_audit(alerts, len(recipients))
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
        "prefetch": PREFETCH, "relay_round_rows": ROUND_ROWS, "relay_batch_items": BATCH_ITEMS,
        "message_bytes": {name: len(body) for name, body in samples.items()},
    }
