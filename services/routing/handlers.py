from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from shared.contracts.events import (
    Hop,
    HopRecorded,
    MatchFound,
    MessageDispatched,
    MessageEnriched,
    RefusedRecipient,
    RoutingDecided,
)
from shared.contracts.identity import derived_id, event_id, hop_event_id
from shared.federation import Federation
from shared.messaging import names
from shared.messaging.batch_end import deferred_in_batch, now_or_at_batch_end
from shared.messaging.outgoing import outgoing
from shared.messaging.ports import DUPLICATE, Outcome, UnitOfWork
from services.routing.domain.decisions import Original, RoutingDecision, decide
from services.routing.domain.hits import notification_targets, visible_hits
from shared.policy import RoutingPolicy
from services.routing.ports import RoutingStore

CONSUMER = "routing"
LANE_HEADER = "x-pcms-lane"
_DECISIONS = "routing decisions"


async def when_message_enriched_route_it(
    event: MessageEnriched,
    *,
    uow: UnitOfWork[RoutingStore],
    federation: Federation,
    policy: RoutingPolicy,
    clock: Callable[[], datetime],
    lane: str = names.ROUTINE,
) -> Outcome | None:
    message = event.message
    async with uow:
        if not await uow.claim(CONSUMER, event_id(event)):
            return DUPLICATE
        reference = message.in_reply_to or getattr(message.body, "supersedes", None)
        original = (_decided_earlier_in_batch(reference) or await uow.store.original(reference)) if reference else None
        decision = decide(message, federation=federation, policy=policy, original=original)
        await now_or_at_batch_end(_DECISIONS, (message, decision), uow=uow, write=lambda items: uow.store.record(items))
        now = clock()
        references_only = decision.hits == "references_only"
        message_json = message.model_dump_json() if decision.recipients or decision.held else None
        for recipient in [*decision.recipients, *decision.held]:
            hits = visible_hits(event.enrichment.hits, recipient=recipient, federation=federation, policy=policy,
                                references_only=references_only)
            copy = outgoing(MessageDispatched(message=message, recipient=recipient, hits=hits, rule=decision.rule,
                                              dispatched_at=now),
                            exchange=names.DELIVERY,
                            routing_key=names.delivery_key(recipient, names.HELD if recipient in decision.held else lane),
                            message_json=message_json)
            copy.headers[LANE_HEADER] = lane
            uow.outbox.add(copy)
        if federation.knows(message.origin) and federation.get(message.origin).is_active:
            notice = RoutingDecided(
                message_id=message.message_id, correlation_id=message.correlation_id, origin=message.origin,
                recipients=decision.recipients, held=decision.held, rule=decision.rule, decided_at=now,
                refused=[RefusedRecipient(platform=code, reason=reason) for code, reason in decision.refused],
            )
            uow.outbox.add(outgoing(notice, exchange=names.DELIVERY, routing_key=names.delivery_key(message.origin, lane)))
            _notify_matches(event, decision, uow=uow, federation=federation, policy=policy, now=now, lane=lane)
        uow.outbox.add(outgoing(_routed_hop(event, decision, federation, now, policy.version), exchange=names.AUDIT,
                                routing_key=names.audit_key(Hop.ROUTED)))
    return None


def _decided_earlier_in_batch(message_id: UUID) -> Original | None:
    """A message routed by an earlier item of the same delivery batch, whose decision is not yet written."""
    return next((Original.of(message, decision) for message, decision in deferred_in_batch(_DECISIONS)
                 if message.message_id == message_id), None)


def _notify_matches(
    event: MessageEnriched, decision: RoutingDecision, *, uow: UnitOfWork[RoutingStore], federation: Federation,
    policy: RoutingPolicy, now: datetime, lane: str,
) -> None:
    message = event.message
    targets = notification_targets(event.enrichment.hits, origin=message.origin, federation=federation, policy=policy)
    for recipient, hits in targets.items():
        shown = visible_hits(hits, recipient=recipient, federation=federation, policy=policy,
                             references_only=decision.hits == "references_only")
        if not shown:
            continue
        notification = MatchFound(
            notification_id=derived_id(message.message_id, f"match-found:{recipient}"), message_id=message.message_id,
            origin=message.origin, kind=message.kind, handling_code=message.handling_code.value, recipient=recipient,
            hits=shown, references_only=decision.hits == "references_only", notified_at=now,
        )
        uow.outbox.add(outgoing(notification, exchange=names.DELIVERY, routing_key=names.delivery_key(recipient, lane)))


def _routed_hop(
    event: MessageEnriched, decision: RoutingDecision, federation: Federation, now: datetime, policy_version: int
) -> HopRecorded:
    message = event.message
    return HopRecorded(
        event_id=hop_event_id(message.message_id, Hop.ROUTED, federation.hub.code),
        message_id=message.message_id, correlation_id=message.correlation_id, kind=message.kind,
        hop=Hop.ROUTED, platform=federation.hub.code, service=CONSUMER, at=now,
        detail={"origin": message.origin, "rule": decision.rule, "recipients": decision.recipients,
                "held": decision.held, "refused": [f"{code}: {reason}" for code, reason in decision.refused],
                "hits": decision.hits, "policy_version": policy_version},
    )
