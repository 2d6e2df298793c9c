"""What the outbox relay publishes for a round of rows: hops joined per exchange, everything else as it is."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from shared.contracts.events import Hop, HopRecorded
from shared.contracts.registry import HOP_RECORDED, HOPS_RECORDED, MESSAGE, parse
from shared.messaging import names
from shared.messaging.hop_batches import publications
from shared.messaging.outgoing import OutgoingMessage, outgoing

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, 2, tzinfo=UTC)


def hop_row(row_id: int, exchange: str, hop: Hop = Hop.ACCEPTED) -> tuple[int, OutgoingMessage]:
    event = HopRecorded(event_id=uuid4(), message_id=uuid4(), hop=hop, platform="NE", service="intake", at=NOW)
    return row_id, outgoing(event, exchange=exchange, routing_key=names.audit_key(hop))


def message_row(row_id: int) -> tuple[int, OutgoingMessage]:
    return row_id, OutgoingMessage(exchange=names.platform_exchange("NE"), routing_key="message.urgent.alert.urgent",
                                   body=b"{}", type=MESSAGE, message_id=str(uuid4()))


def test_the_hops_of_a_round_leave_in_one_message_that_parses_into_every_hop_in_order() -> None:
    exchange = names.platform_exchange("NE")
    rows = [hop_row(1, exchange), hop_row(2, exchange, Hop.PUBLISHED), hop_row(3, exchange, Hop.DELIVERED)]

    [publication] = publications(rows)

    assert publication.rows == tuple(rows)
    message = publication.message
    assert (message.type, message.exchange, message.routing_key) == (HOPS_RECORDED, exchange, names.HOPS_KEY)
    batch = parse(message.type, message.body, message.headers)
    assert [hop.model_dump_json().encode() for hop in batch.hops] == [m.body for _, m in rows]
    assert str(batch.batch_id) == message.message_id


def test_other_messages_go_on_their_own_and_hops_are_joined_per_exchange() -> None:
    platform, hub = names.platform_exchange("NE"), names.AUDIT
    alert, lone_hop = message_row(1), hop_row(2, hub)
    rows = [alert, hop_row(3, platform), lone_hop, hop_row(4, platform)]

    going = publications(rows)

    assert [p.rows for p in going] == [(alert,), (rows[1], rows[3]), (lone_hop,)]
    assert going[0].message is alert[1]
    assert going[2].message is lone_hop[1] and going[2].message.type == HOP_RECORDED
    assert going[1].message.type == HOPS_RECORDED


def test_a_large_round_is_split_at_the_batch_limit() -> None:
    exchange = names.AUDIT
    rows = [hop_row(i, exchange) for i in range(5)]

    going = publications(rows, max_hops=2)

    assert [len(p.rows) for p in going] == [2, 2, 1]
    assert [row for p in going for row in p.rows] == rows


def test_the_same_hops_make_the_same_batch_id() -> None:
    rows = [hop_row(1, names.AUDIT), hop_row(2, names.AUDIT)]
    assert publications(rows)[0].message.message_id == publications(list(rows))[0].message.message_id
    assert UUID(publications(rows)[0].message.message_id)
