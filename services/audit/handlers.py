import asyncio

import structlog

from shared.contracts.events import CheckpointPublished, HopRecorded, HopsRecorded
from shared.messaging.ports import UnitOfWork
from services.audit.ports import AuditLog, Witness

log = structlog.get_logger("audit")


async def when_hop_recorded_append_it(event: HopRecorded, *, uow: UnitOfWork[AuditLog]) -> None:
    async with uow:
        appended = await uow.store.append(event)
    if not appended:
        log.info("audit_duplicate_ignored", event_id=str(event.event_id))


async def when_hop_recorded_append_it_in_a_batch(event: HopRecorded, *, log_: AuditLog) -> None:
    """Through the single appender: returns once the batch holding the entry is committed."""
    if not await log_.append(event):
        log.info("audit_duplicate_ignored", event_id=str(event.event_id))


async def when_hops_recorded_append_each(batch: HopsRecorded, *, log_: AuditLog) -> None:
    """A relay's joined hops: each appended on its own (once, by event id); returns once all are committed."""
    appended = await asyncio.gather(*(log_.append(hop) for hop in batch.hops))
    if not all(appended):
        log.info("audit_duplicates_ignored", batch_id=str(batch.batch_id), duplicates=appended.count(False))


async def when_checkpoint_published_witness_it(event: CheckpointPublished, *, witness: Witness) -> None:
    """Judges the hub's checkpoint and records the verdict; a rejection is recorded and logged, not retried."""
    await witness.observe(event)
