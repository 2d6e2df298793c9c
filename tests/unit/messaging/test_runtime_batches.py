"""The consumer runtime's handling of a batch's items, without a broker: what it does between items."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from shared.contracts.events import Hop, HopRecorded
from shared.contracts.registry import HOP_RECORDED
from shared.messaging import names
from shared.messaging.runtime import Consumer, ItemOfBatch, QuarantineTarget, Subscription
from shared.security.origin import Verdict

pytestmark = pytest.mark.unit


def hop_item() -> ItemOfBatch:
    message_id = uuid4()
    hop = HopRecorded(event_id=uuid4(), message_id=message_id, hop=Hop.DELIVERED, platform="ML", service="intake",
                      at=datetime(2026, 12, 5, tzinfo=UTC))
    return ItemOfBatch(hop.model_dump_json().encode(), {}, str(message_id), None, HOP_RECORDED, "application/json")


async def test_a_batch_whose_items_never_wait_on_io_lets_other_handlers_run_between_them() -> None:
    happened: list[str] = []

    async def handler(_model: object) -> None:
        happened.append("item")

    async def an_alert_arriving() -> None:
        happened.append("alert")

    consumer = Consumer(None, None, Subscription("audit.HUB.bulk", {HOP_RECORDED: handler}),  # type: ignore[arg-type]
                        QuarantineTarget("HUB", "audit", names.AUDIT), verifier=None)  # type: ignore[arg-type]
    alert = asyncio.create_task(an_alert_arriving())
    handled = await consumer._handle_items([hop_item() for _ in range(3)], handler, Verdict(True), None, {})

    await alert
    assert len(handled) == 3
    assert happened == ["item", "alert", "item", "item"]
