"""What the outbox relay publishes for a round of rows, and which rows each broker message carries. Pure.

Hops: every message a service handles records one or more hops (accepted, published, enriched,
routed, delivered...), each an outbox row committed with the effect it records. The relay joins the
hops of one round for one exchange and lane into a single `pcms.hops_recorded` (HopsRecorded), under
the lane's key (audit.urgent.hops), so an alert's hops never queue behind an import's at the audit;
the audit appends each hop on its own, once (by event id).

The pipeline's messages (registry.JOINABLE): rows of one round with the same exchange, routing key,
type, priority and headers leave joined in one `pcms.batch_relayed` (BatchRelayed, since contract
1.3), up to `max_items` each; a row with no such companion, and any other row, leaves as it is. A
relay round holds several rows only when rows were committed faster than they were published, so at
a light load every message still travels alone and nothing waits to fill a batch; under load a
backlog travels, and is handled (shared/messaging/runtime.py), a batch at a time. Copies the hub
holds for a suspended member are never joined: they are released one by one.

The rows of a publication are marked sent together, after its one confirm.
"""

from dataclasses import dataclass, replace

import orjson

from shared.contracts.events import MAX_HOPS_PER_BATCH, MAX_ITEMS_PER_BATCH
from shared.contracts.identity import hops_batch_id, relayed_batch_id
from shared.contracts.registry import BATCH_RELAYED, HOP_RECORDED, HOPS_RECORDED, JOINABLE
from shared.messaging import names
from shared.messaging.outgoing import OutgoingMessage

Row = tuple[int, OutgoingMessage]


@dataclass(frozen=True)
class Publication:
    """One broker message and the outbox rows (with their own messages) it carries."""

    message: OutgoingMessage
    rows: tuple[Row, ...]


def publications(
    rows: list[Row], *, max_hops: int = MAX_HOPS_PER_BATCH, max_items: int = MAX_ITEMS_PER_BATCH
) -> list[Publication]:
    """The rows as they go out, in the order of each group's first row; `max_items` 1 joins no message rows."""
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault(_group_of(row[1], joins=max_items > 1), []).append(row)
    out: list[Publication] = []
    for key, grouped in groups.items():
        if key[0] == "alone":
            out.extend(Publication(message, ((row_id, message),)) for row_id, message in grouped)
            continue
        limit, join = (max_hops, joined) if key[0] == "hops" else (min(max_items, MAX_ITEMS_PER_BATCH), relayed_together)
        for start in range(0, len(grouped), limit):
            chunk = tuple(grouped[start:start + limit])
            out.append(Publication(chunk[0][1] if len(chunk) == 1 else join(chunk), chunk))
    return [_on_its_lane(publication) for publication in out]


def _on_its_lane(publication: Publication) -> Publication:
    message = publication.message
    if message.type != HOP_RECORDED:
        return publication
    key = names.laned_audit_key(names.lane_of_priority(message.priority), message.routing_key)
    return Publication(replace(message, routing_key=key), publication.rows)


def _group_of(message: OutgoingMessage, *, joins: bool) -> tuple:
    if message.type == HOP_RECORDED:
        return ("hops", message.exchange, names.lane_of_priority(message.priority))
    if not joins or message.type not in JOINABLE or message.routing_key.endswith("." + names.HELD):
        return ("alone",)
    return ("items", message.exchange, message.routing_key, message.type, message.priority,
            orjson.dumps(message.headers, option=orjson.OPT_SORT_KEYS))


def joined(rows: tuple[Row, ...]) -> OutgoingMessage:
    hops = [message for _, message in rows]
    batch_id = str(hops_batch_id([hop.message_id for hop in hops]))
    key = names.hops_key(names.lane_of_priority(hops[0].priority))
    body = b'{"batch_id":"' + batch_id.encode() + b'","hops":[' + b",".join(hop.body for hop in hops) + b"]}"
    return OutgoingMessage(
        exchange=hops[0].exchange, routing_key=key, body=body, type=HOPS_RECORDED, message_id=batch_id,
        priority=max(hop.priority for hop in hops), headers=dict(hops[0].headers),
    )


def relayed_together(rows: tuple[Row, ...]) -> OutgoingMessage:
    """One BatchRelayed of the rows' messages; the bodies go in as they are (as JSON text)."""
    messages = [message for _, message in rows]
    first = messages[0]
    batch_id = str(relayed_batch_id([message.message_id for message in messages]))
    body = orjson.dumps({
        "batch_id": batch_id,
        "item_type": first.type,
        "items": [{"message_id": m.message_id, "correlation_id": m.correlation_id, "body": m.body.decode()}
                  for m in messages],
    })
    return OutgoingMessage(
        exchange=first.exchange, routing_key=first.routing_key, body=body, type=BATCH_RELAYED, message_id=batch_id,
        priority=first.priority, headers=dict(first.headers),
    )
