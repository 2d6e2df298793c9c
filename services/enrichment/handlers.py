from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from shared.contracts.events import Enrichment, Hit, Hop, HopRecorded, MatchOutcome, MessageEnriched, NormalisedEntity
from shared.contracts.identity import hop_event_id
from shared.contracts.messages import Message
from shared.federation import Federation
from shared.messaging import names
from shared.messaging.batch_end import now_or_at_batch_end
from shared.messaging.errors import MessageRejected
from shared.messaging.outgoing import outgoing
from shared.messaging.ports import DUPLICATE, Outcome, UnitOfWork
from services.enrichment.domain.matching import Candidate
from services.enrichment.domain.normalise import is_identifier_key, normalise_entities
from services.enrichment.ports import IndexedKey, Matcher, MessageToIndex, RegionalIndex

CONSUMER = "enrichment"
HITS_PER_ENTITY = 5
MAX_HITS = 50
_TEXT = 200


@dataclass(frozen=True)
class Claimed:
    """A message claimed and normalised, waiting for the regional index."""

    message: Message
    entities: list[NormalisedEntity]


async def when_message_published_enrich_it(
    message: Message,
    *,
    uow: UnitOfWork[RegionalIndex],
    matcher: Matcher,
    ingress_platform: str,
    federation: Federation,
    clock: Callable[[], datetime],
    lane: str = names.ROUTINE,
    hits_per_entity: int = HITS_PER_ENTITY,
    max_hits: int = MAX_HITS,
    route: Callable[[MessageEnriched], Awaitable[Outcome | None]] | None = None,
) -> Outcome | None:
    """Normalise, match (exact identifiers, then scored candidates), index, then publish the enriched message for
    the routing service or, given `route`, have it routed in this same transaction (`route`'s unit of work then
    joins this one's: see services/enrichment/bootstrap.py); and record the hop.

    The messages of one delivery batch are indexed with one statement at the batch's end
    (shared/messaging/batch_end.py), then matched and routed in turn; a message alone, at once. The in-memory
    matcher is fed only once the transaction has committed, and only once per message.
    """
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
        await now_or_at_batch_end((CONSUMER, lane), Claimed(message, entities), uow=uow, write=partial(
            _enrich, uow=uow, matcher=matcher, federation=federation, clock=clock, lane=lane,
            hits_per_entity=hits_per_entity, max_hits=max_hits, route=route))
    return None


async def _enrich(
    batch: list[Claimed], *, uow: UnitOfWork[RegionalIndex], matcher: Matcher, federation: Federation,
    clock: Callable[[], datetime], lane: str, hits_per_entity: int, max_hits: int,
    route: Callable[[MessageEnriched], Awaitable[Outcome | None]] | None,
) -> None:
    """In the open unit of work: indexes the messages with one statement, then matches, publishes (or routes) each
    in turn."""
    found = await uow.store.index_many([
        MessageToIndex(c.message.message_id, c.message.origin, c.message.handling_code, c.entities,
                       matching=sorted({key for e in c.entities for key in e.keys if is_identifier_key(key)}))
        for c in batch])
    for claimed, matches in zip(batch, found, strict=True):
        message, entities = claimed.message, claimed.entities
        candidates = candidates_of(entities, matcher, excluding=str(message.message_id), limit=hits_per_entity)
        hits = merged_hits(identifier_hits(entities, matches), candidate_hits(candidates), limit=max_hits)
        now = clock()
        enriched = MessageEnriched(message=message, enrichment=Enrichment(entities=entities, hits=hits), enriched_at=now)
        if route is None:
            uow.outbox.add(outgoing(enriched, exchange=names.HUB_ENRICHED,
                                    routing_key=names.enriched_key(lane, message.kind)))
        hop = HopRecorded(
            event_id=hop_event_id(message.message_id, Hop.ENRICHED, federation.hub.code),
            message_id=message.message_id, correlation_id=message.correlation_id, kind=message.kind,
            hop=Hop.ENRICHED, platform=federation.hub.code, service=CONSUMER, at=now,
            detail={"origin": message.origin, "entities": len(entities), "hits": len(hits)},
        )
        uow.outbox.add(outgoing(hop, exchange=names.AUDIT, routing_key=names.audit_key(Hop.ENRICHED)))
        if entities:
            uow.after_commit(partial(matcher.add_message, message.message_id, message.origin,
                                     [(str(e.entity_type), e.position, e.canonical) for e in entities]))
        if route is not None:
            await route(enriched)


# ---- exact identifiers (the store of record) -------------------------------------------------------

_IDENTIFIER_LABELS = {"doc": "number", "phone": "phone", "vin": "VIN", "plate": "plate", "firearm": "firearm serial"}


def identifier_explanation(key: str) -> str:
    kind, _, rest = key.partition(":")
    if kind == "doc":
        doc_type, _, rest = rest.partition(":")
        country, _, number = rest.partition(":")
        return f"{doc_type} number identical ({country} {number})"
    if kind == "plate":
        country, _, number = rest.partition(":")
        return f"plate identical ({country} {number})"
    if kind == "firearm":
        return f"firearm serial identical ({rest.removeprefix('serial:')})"
    return f"{_IDENTIFIER_LABELS.get(kind, kind)} identical ({rest})"


def identifier_hits(entities: list[NormalisedEntity], matches: list[IndexedKey]) -> dict[tuple, Hit]:
    by_key: dict[str, list[NormalisedEntity]] = {}
    for entity in entities:
        for key in entity.keys:
            if is_identifier_key(key):
                by_key.setdefault(key, []).append(entity)
    hits: dict[tuple, Hit] = {}
    for match in matches:
        for entity in by_key.get(match.key, []):
            ref = (str(entity.entity_type), entity.position, str(match.message_id), str(match.entity_type), match.position)
            if ref not in hits:
                hits[ref] = Hit(
                    entity_type=entity.entity_type, position=entity.position, key=match.key[:_TEXT],
                    matched_message_id=match.message_id, matched_platform=match.platform, score=1.0,
                    outcome=MatchOutcome.HIT, explanation=[identifier_explanation(match.key)[:_TEXT]],
                )
    return hits


# ---- scored candidates (the in-memory index) -------------------------------------------------------

def candidates_of(
    entities: list[NormalisedEntity], matcher: Matcher, *, excluding: str, limit: int
) -> list[tuple[NormalisedEntity, Candidate]]:
    return [
        (entity, candidate)
        for entity in entities
        for candidate in matcher.candidates(str(entity.entity_type), entity.canonical, limit=limit, excluding=excluding)
    ]


def _candidate_key(entity: NormalisedEntity, candidate: Candidate) -> str:
    """The query's key that best names the match: its first name key for a person, else its first key."""
    prefixes = ("name:",) if str(entity.entity_type) == "person" else ("",)
    if candidate.explanation and candidate.explanation[0].startswith("document identical"):
        prefixes = ("doc:",)
    key = next((k for k in entity.keys if k.startswith(prefixes)), None) or next(iter(entity.keys), None)
    return (key or f"{entity.entity_type}:{entity.position}")[:_TEXT]


def candidate_hits(candidates: list[tuple[NormalisedEntity, Candidate]]) -> dict[tuple, Hit]:
    hits: dict[tuple, Hit] = {}
    for entity, candidate in candidates:
        if candidate.outcome not in (MatchOutcome.HIT, MatchOutcome.REVIEW):
            continue
        ref = (str(entity.entity_type), entity.position, candidate.ref.message_id, candidate.entity_type,
               candidate.ref.position)
        hit = Hit(
            entity_type=entity.entity_type, position=entity.position, key=_candidate_key(entity, candidate),
            matched_message_id=candidate.ref.message_id, matched_platform=candidate.ref.platform,
            score=min(1.0, max(0.0, candidate.score)), outcome=MatchOutcome(candidate.outcome),
            explanation=[line[:_TEXT] for line in candidate.explanation if line][:20],
        )
        if ref not in hits or hit.score > hits[ref].score:
            hits[ref] = hit
    return hits


def merged_hits(identifiers: dict[tuple, Hit], scored: dict[tuple, Hit], *, limit: int) -> list[Hit]:
    """One hit per pair of records: the identifier hit, unless the scored one is stronger; best first."""
    merged = dict(identifiers)
    for ref, hit in scored.items():
        if ref not in merged or hit.score > merged[ref].score:
            merged[ref] = hit
    ranked = sorted(merged.values(), key=lambda h: (h.outcome != MatchOutcome.HIT, -h.score, str(h.matched_message_id),
                                                     h.entity_type, h.position))
    return ranked[:limit]
