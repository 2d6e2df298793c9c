import structlog

from shared.contracts.events import HopRecorded
from shared.messaging.ports import UnitOfWork
from services.audit.ports import AuditLog

log = structlog.get_logger("audit")


async def when_hop_recorded_append_it(event: HopRecorded, *, uow: UnitOfWork[AuditLog]) -> None:
    async with uow:
        appended = await uow.store.append(event)
    if not appended:
        log.info("audit_duplicate_ignored", event_id=str(event.event_id))
