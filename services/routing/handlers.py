from collections.abc import Callable
from datetime import datetime

from shared.contracts.events import Hop, HopRecorded, MessageDispatched, MessageEnriched, RefusedRecipient, RoutingDecided
from shared.contracts.identity import event_id, hop_event_id
from shared.federation import Federation
from shared.messaging import names
from shared.messaging.outgoing import outgoing
from shared.messaging.ports import DUPLICATE, Outcome, UnitOfWork
from services.routing.domain.decisions import decide
from services.routing.ports import RoutingStore

CONSUMER = "routing"


async def when_message_enriched_route_it(
    event: MessageEnriched,
    *,
    uow: UnitOfWork[RoutingStore],
    federation: Federation,
    clock: Callable[[], datetime],
    lane: str = names.ROUTINE,
) -> Outcome | None:
    message = event.message
    async with uow:
        if not await uow.claim(CONSUMER, event_id(event)):
            return DUPLICATE
        answered_origin = await uow.store.origin_of(message.in_reply_to) if message.in_reply_to else None
        decision = decide(message, federation=federation, answered_origin=answered_origin)
        await uow.store.record(message, decision)
        now = clock()
        for recipient in decision.recipients:
            dispatched = MessageDispatched(
                message=message, recipient=recipient, hits=event.enrichment.hits, rule=decision.rule, dispatched_at=now
            )
            uow.outbox.add(outgoing(dispatched, exchange=names.DELIVERY, routing_key=names.delivery_key(recipient, lane)))
        refused = [RefusedRecipient(platform=code, reason=reason) for code, reason in decision.refused]
        if federation.knows(message.origin) and federation.get(message.origin).is_active:
            notice = RoutingDecided(
                message_id=message.message_id, correlation_id=message.correlation_id, origin=message.origin,
                recipients=decision.recipients, refused=refused, rule=decision.rule, decided_at=now,
            )
            uow.outbox.add(outgoing(notice, exchange=names.DELIVERY, routing_key=names.delivery_key(message.origin, lane)))
        hop = HopRecorded(
            event_id=hop_event_id(message.message_id, Hop.ROUTED, federation.hub.code),
            message_id=message.message_id, correlation_id=message.correlation_id, kind=message.kind,
            hop=Hop.ROUTED, platform=federation.hub.code, service=CONSUMER, at=now,
            detail={"origin": message.origin, "rule": decision.rule, "recipients": decision.recipients,
                    "refused": [f"{code}: {reason}" for code, reason in decision.refused]},
        )
        uow.outbox.add(outgoing(hop, exchange=names.AUDIT, routing_key=names.audit_key(Hop.ROUTED)))
