"""What the outbox relay publishes for a round of rows: hops joined per exchange, the pipeline's messages joined
per destination, everything else as it is."""

from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from shared.contracts.events import Hop, HopRecorded
from shared.contracts.registry import BATCH_RELAYED, CHECKPOINT_PUBLISHED, HOP_RECORDED, HOPS_RECORDED, MESSAGE, parse
from shared.messaging import names
from shared.messaging.batches import publications
from shared.messaging.outgoing import OutgoingMessage, outgoing

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, 2, tzinfo=UTC)


def hop_row(row_id: int, exchange: str, hop: Hop = Hop.ACCEPTED) -> tuple[int, OutgoingMessage]:
    event = HopRecorded(event_id=uuid4(), message_id=uuid4(), hop=hop, platform="NE", service="intake", at=NOW)
    return row_id, outgoing(event, exchange=exchange, routing_key=names.audit_key(hop))


def message_row(row_id: int, routing_key: str = "message.urgent.alert.urgent", **fields) -> tuple[int, OutgoingMessage]:
    message_id = str(uuid4())
    return row_id, OutgoingMessage(exchange=fields.pop("exchange", names.platform_exchange("NE")), routing_key=routing_key,
                                   body=b'{"message_id":"' + message_id.encode() + b'","origin":"NE"}',
                                   type=fields.pop("type", MESSAGE), message_id=message_id,
                                   correlation_id=message_id, **fields)


def test_the_hops_of_a_round_leave_in_one_message_that_parses_into_every_hop_in_order() -> None:
    exchange = names.platform_exchange("NE")
    rows = [hop_row(1, exchange), hop_row(2, exchange, Hop.PUBLISHED), hop_row(3, exchange, Hop.DELIVERED)]

    [publication] = publications(rows)

    assert publication.rows == tuple(rows)
    message = publication.message
    assert (message.type, message.exchange, message.routing_key) == (HOPS_RECORDED, exchange, names.hops_key(names.ROUTINE))
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
    assert going[2].message.body == lone_hop[1].body and going[2].message.type == HOP_RECORDED
    assert going[1].message.type == HOPS_RECORDED


def test_hops_leave_on_their_lane_so_an_alerts_hops_never_queue_behind_an_imports_at_the_audit() -> None:
    exchange = names.platform_exchange("NE")
    urgent, routine, bulk, unlaned = (hop_row(1, exchange), hop_row(2, exchange), hop_row(3, exchange),
                                      hop_row(4, exchange, Hop.DELIVERED))
    rows = [(1, replace(urgent[1], priority=names.LANE_PRIORITY[names.URGENT])),
            (2, replace(routine[1], priority=names.LANE_PRIORITY[names.ROUTINE])),
            (3, replace(bulk[1], priority=names.LANE_PRIORITY[names.BULK])), unlaned,
            (5, replace(hop_row(5, exchange)[1], priority=names.LANE_PRIORITY[names.BULK]))]

    going = publications(rows)

    assert [(p.message.routing_key, [row_id for row_id, _ in p.rows]) for p in going] == [
        ("audit.urgent.accepted", [1]), ("audit.routine.hops", [2, 4]), ("audit.bulk.hops", [3, 5])]
    assert going[0].message.type == HOP_RECORDED and going[0].message.body == urgent[1].body
    assert all(names.lane_of_priority(p.message.priority) == lane
               for p, lane in zip(going, (names.URGENT, names.ROUTINE, names.BULK), strict=True))


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


def test_messages_of_a_round_for_one_destination_leave_in_one_batch_whose_items_are_the_messages_in_order() -> None:
    rows = [message_row(1), message_row(2), message_row(3)]

    [publication] = publications(rows, max_items=100)

    assert publication.rows == tuple(rows)
    message = publication.message
    assert (message.type, message.exchange, message.routing_key) == (BATCH_RELAYED, rows[0][1].exchange,
                                                                     rows[0][1].routing_key)
    batch = parse(message.type, message.body, message.headers)
    assert batch.item_type == MESSAGE and str(batch.batch_id) == message.message_id
    assert [(str(item.message_id), str(item.correlation_id), item.body.encode()) for item in batch.items] == [
        (m.message_id, m.correlation_id, m.body) for _, m in rows]


def test_messages_join_only_with_the_same_destination_type_priority_and_headers() -> None:
    rows = [message_row(1), message_row(2, "message.urgent.report.urgent"), message_row(3, priority=9),
            message_row(4, headers={"x-pcms-lane": "bulk"}), message_row(5, type="pcms.message_enriched"),
            message_row(6)]

    going = publications(rows, max_items=100)

    assert [[row_id for row_id, _ in p.rows] for p in going] == [[1, 6], [2], [3], [4], [5]]
    assert [p.message.type for p in going] == [BATCH_RELAYED, MESSAGE, MESSAGE, MESSAGE, "pcms.message_enriched"]


def test_copies_held_for_a_suspended_member_and_checkpoints_always_leave_alone() -> None:
    held = [message_row(i, names.delivery_key("TD", names.HELD), exchange=names.DELIVERY,
                        type="pcms.message_dispatched") for i in (1, 2)]
    checkpoints = [message_row(i, "", exchange="pcms.audit.checkpoints", type=CHECKPOINT_PUBLISHED) for i in (3, 4)]

    going = publications(held + checkpoints, max_items=100)

    assert [p.rows for p in going] == [(row,) for row in held + checkpoints]
    assert all(p.message is p.rows[0][1] for p in going)


def test_a_round_larger_than_the_item_limit_leaves_in_several_batches_and_a_limit_of_one_joins_nothing() -> None:
    rows = [message_row(i) for i in range(5)]

    assert [len(p.rows) for p in publications(rows, max_items=2)] == [2, 2, 1]
    assert [p.message for p in publications(rows, max_items=1)] == [m for _, m in rows]
