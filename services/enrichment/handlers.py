from collections.abc import Callable
from datetime import datetime

from shared.contracts.events import Enrichment, Hit, Hop, HopRecorded, MatchOutcome, MessageEnriched
from shared.contracts.identity import hop_event_id
from shared.contracts.messages import Message
from shared.federation import Federation
from shared.messaging import names
from shared.messaging.errors import MessageRejected
from shared.messaging.outgoing import outgoing
from shared.messaging.ports import DUPLICATE, Outcome, UnitOfWork
from services.enrichment.domain.normalise import is_identifier_key, normalise_entities
from services.enrichment.ports import IndexedKey, RegionalIndex

CONSUMER = "enrichment"


async def when_message_published_enrich_it(
    message: Message,
    *,
    uow: UnitOfWork[RegionalIndex],
    ingress_platform: str,
    federation: Federation,
    clock: Callable[[], datetime],
) -> Outcome | None:
    if message.origin != ingress_platform:
        raise MessageRejected(
            f"origin {message.origin} arrived on the exchange of {ingress_platform}: a platform publishes only its own"
        )
    entities_in = getattr(message.body, "entities", None)
    reporting_country = federation.get(message.origin).country if federation.knows(message.origin) else None
    entities = normalise_entities(entities_in, reporting_country=reporting_country) if entities_in else []
    async with uow:
        if not await uow.claim(CONSUMER, message.message_id):
            return DUPLICATE
        keys = sorted({key for entity in entities for key in entity.keys if is_exact_match_key(key)})
        matches = await uow.store.lookup(keys, excluding=message.message_id)
        hits = hits_from(entities, matches)
        if entities:
            await uow.store.add(
                entities, platform=message.origin, message_id=message.message_id, handling_code=message.handling_code
            )
        now = clock()
        enriched = MessageEnriched(message=message, enrichment=Enrichment(entities=entities, hits=hits), enriched_at=now)
        uow.outbox.add(outgoing(enriched, exchange=names.HUB_ENRICHED, routing_key=f"{message.kind}.{message.priority}"))
        hop = HopRecorded(
            event_id=hop_event_id(message.message_id, Hop.ENRICHED, federation.hub.code),
            message_id=message.message_id, correlation_id=message.correlation_id, kind=message.kind,
            hop=Hop.ENRICHED, platform=federation.hub.code, service=CONSUMER, at=now,
            detail={"origin": message.origin, "entities": len(entities), "hits": len(hits)},
        )
        uow.outbox.add(outgoing(hop, exchange=names.AUDIT, routing_key=names.audit_key(Hop.ENRICHED)))


def is_exact_match_key(key: str) -> bool:
    return is_identifier_key(key) or key.startswith("name:")


def hits_from(entities: list, matches: list[IndexedKey]) -> list[Hit]:
    by_key: dict[str, list] = {}
    for entity in entities:
        for key in entity.keys:
            by_key.setdefault(key, []).append(entity)
    hits: dict[tuple, Hit] = {}
    for match in matches:
        for entity in by_key.get(match.key, []):
            identifier = is_identifier_key(match.key)
            ref = (entity.entity_type, entity.position, match.message_id, match.position)
            if ref in hits and hits[ref].outcome is MatchOutcome.HIT:
                continue
            hits[ref] = Hit(
                entity_type=entity.entity_type, position=entity.position, key=match.key[:200],
                matched_message_id=match.message_id, matched_platform=match.platform,
                score=1.0 if identifier else 0.7,
                outcome=MatchOutcome.HIT if identifier else MatchOutcome.REVIEW,
                explanation=["identifier identical" if identifier else "normalised full name identical"],
            )
    return list(hits.values())
