from shared.contracts.events import HopRecorded
from shared.messaging.ports import DUPLICATE, Outcome, UnitOfWork
from services.audit.ports import AuditLog


async def when_hop_recorded_append_it(event: HopRecorded, *, uow: UnitOfWork[AuditLog]) -> Outcome | None:
    async with uow:
        appended = await uow.store.append(event)
    return None if appended else DUPLICATE
