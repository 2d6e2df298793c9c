"""The audit handler, driven with the in-memory unit of work and audit log."""

from datetime import UTC, datetime
from uuid import UUID

import pytest

from shared.contracts.events import Hop, HopRecorded, HopsRecorded
from shared.contracts.identity import hop_event_id, hops_batch_id
from shared.messaging.fakes import FakeUnitOfWork
from services.audit.fakes import InMemoryAuditLog
from services.audit.handlers import when_hop_recorded_append_it, when_hops_recorded_append_each

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 10, 15, 2, tzinfo=UTC)
MESSAGE_ID = UUID("00000000-0000-4000-8000-000000000001")


def hop(hop: Hop = Hop.DELIVERED, platform: str = "ML", **fields: object) -> HopRecorded:
    return HopRecorded(event_id=hop_event_id(MESSAGE_ID, hop, platform), message_id=MESSAGE_ID,
                       correlation_id=MESSAGE_ID, kind="alert", hop=hop, platform=platform, service="intake", at=NOW,
                       detail={"origin": "NE"}, **fields)  # type: ignore[arg-type]


class FailingAuditLog(InMemoryAuditLog):
    async def append(self, event: HopRecorded) -> bool:
        raise RuntimeError("database went away")


async def test_a_recorded_hop_is_appended_to_the_audit_log() -> None:
    uow = FakeUnitOfWork(InMemoryAuditLog())
    event = hop()

    await when_hop_recorded_append_it(event, uow=uow)

    assert uow.store.entries == [event]
    assert uow.commits == 1
    assert uow.published == []


async def test_hops_are_appended_in_arrival_order() -> None:
    uow = FakeUnitOfWork(InMemoryAuditLog())
    events = [hop(Hop.ACCEPTED, "NE"), hop(Hop.ENRICHED, "HUB"), hop(Hop.ROUTED, "HUB"), hop(Hop.DELIVERED, "ML")]

    for event in events:
        await when_hop_recorded_append_it(event, uow=uow)

    assert uow.store.entries == events
    assert [entry["seq"] for entry in await uow.store.trail(MESSAGE_ID)] == [0, 1, 2, 3]


async def test_a_repeated_hop_with_the_same_event_id_is_appended_once() -> None:
    uow = FakeUnitOfWork(InMemoryAuditLog())
    event = hop()

    await when_hop_recorded_append_it(event, uow=uow)
    await when_hop_recorded_append_it(event, uow=uow)
    await when_hop_recorded_append_it(event.model_copy(update={"at": datetime(2026, 11, 30, tzinfo=UTC)}), uow=uow)

    assert uow.store.entries == [event]


async def test_the_same_hop_at_two_platforms_is_appended_twice() -> None:
    uow = FakeUnitOfWork(InMemoryAuditLog())

    await when_hop_recorded_append_it(hop(Hop.DELIVERED, "ML"), uow=uow)
    await when_hop_recorded_append_it(hop(Hop.DELIVERED, "TD"), uow=uow)

    assert [entry.platform for entry in uow.store.entries] == ["ML", "TD"]


async def test_a_failing_append_commits_nothing() -> None:
    uow = FakeUnitOfWork(FailingAuditLog())

    with pytest.raises(RuntimeError):
        await when_hop_recorded_append_it(hop(), uow=uow)

    assert uow.commits == 0
    assert uow.published == []


async def test_joined_hops_are_each_appended_once_even_when_the_batch_comes_again() -> None:
    log_ = InMemoryAuditLog()
    first, second = hop(Hop.ACCEPTED, "NE"), hop(Hop.PUBLISHED, "NE")
    batch = HopsRecorded(batch_id=hops_batch_id([str(first.event_id), str(second.event_id)]), hops=[first, second])

    await when_hops_recorded_append_each(batch, log_=log_)
    await when_hops_recorded_append_each(batch, log_=log_)

    assert log_.entries == [first, second]
