"""The relay's one broker message for the hops of a round: what it publishes for which outbox rows. Pure.

Every message a service handles records one or more hops (accepted, published, enriched, routed,
delivered...), and each hop is an outbox row of its own, committed with the effect it records. Sent
one by one they were more than half of the broker's traffic; the relay now joins the hops of one round
for one exchange into a single `pcms.hops_recorded` (HopsRecorded), built from the rows' bodies as they
are. The rows are marked sent together, after the one confirm; the audit appends each hop on its own,
once (by event id), as before.
"""

from dataclasses import dataclass

from shared.contracts.events import MAX_HOPS_PER_BATCH
from shared.contracts.identity import hops_batch_id
from shared.contracts.registry import HOP_RECORDED, HOPS_RECORDED
from shared.messaging import names
from shared.messaging.outgoing import OutgoingMessage


@dataclass(frozen=True)
class Publication:
    """One broker message and the outbox rows (with their own messages) it carries."""

    message: OutgoingMessage
    rows: tuple[tuple[int, OutgoingMessage], ...]


def publications(rows: list[tuple[int, OutgoingMessage]], *, max_hops: int = MAX_HOPS_PER_BATCH) -> list[Publication]:
    """The rows as they go out: every row that is not a hop on its own, in order; the hops of each exchange joined."""
    out: list[Publication] = []
    hops_by_exchange: dict[str, list[tuple[int, OutgoingMessage]]] = {}
    for row in rows:
        if row[1].type == HOP_RECORDED:
            hops_by_exchange.setdefault(row[1].exchange, []).append(row)
        else:
            out.append(Publication(row[1], (row,)))
    for hop_rows in hops_by_exchange.values():
        for start in range(0, len(hop_rows), max_hops):
            chunk = tuple(hop_rows[start:start + max_hops])
            out.append(Publication(chunk[0][1] if len(chunk) == 1 else joined(chunk), chunk))
    return out


def joined(rows: tuple[tuple[int, OutgoingMessage], ...]) -> OutgoingMessage:
    hops = [message for _, message in rows]
    batch_id = str(hops_batch_id([hop.message_id for hop in hops]))
    body = b'{"batch_id":"' + batch_id.encode() + b'","hops":[' + b",".join(hop.body for hop in hops) + b"]}"
    return OutgoingMessage(
        exchange=hops[0].exchange, routing_key=names.HOPS_KEY, body=body, type=HOPS_RECORDED, message_id=batch_id,
        priority=max(hop.priority for hop in hops), headers=dict(hops[0].headers),
    )
