"""Deterministic ids for everything derived from a message.

Re-processing a message after a crash yields the same ids downstream, so every consumer can
detect a repeat by id alone.
"""

from hashlib import sha1
from uuid import UUID

from pydantic import BaseModel

from shared.contracts.events import (
    BatchRelayed,
    HopRecorded,
    HopsRecorded,
    MatchFound,
    MessageDispatched,
    MessageEnriched,
    RoutingDecided,
)


_VERSION_5 = 5 << 76 | 0x8000 << 48  # RFC 4122: version 5, variant 10
_NOT_VERSION_BITS = ~(0xF000 << 64 | 0xC000 << 48)


def derived_id(message_id: UUID, what: str) -> UUID:
    """uuid.uuid5(message_id, what), computed without its per-call import and checks (several an alert)."""
    digest = int.from_bytes(sha1(message_id.bytes + what.encode()).digest()[:16], "big")
    return UUID(int=digest & _NOT_VERSION_BITS | _VERSION_5)


def event_id(model: BaseModel) -> UUID:
    """The id a contract travels under (the AMQP message_id)."""
    if isinstance(model, HopRecorded):
        return model.event_id
    if isinstance(model, (HopsRecorded, BatchRelayed)):
        return model.batch_id
    if isinstance(model, MessageEnriched):
        return derived_id(model.message.message_id, "enriched")
    if isinstance(model, MessageDispatched):
        return derived_id(model.message.message_id, f"dispatched:{model.recipient}")
    if isinstance(model, RoutingDecided):
        return derived_id(model.message_id, "routing-decided")
    if isinstance(model, MatchFound):
        return model.notification_id
    return model.message_id  # type: ignore[attr-defined]


def correlation_of(model: BaseModel) -> UUID | None:
    if isinstance(model, (MessageEnriched, MessageDispatched)):
        return model.message.correlation_id
    return getattr(model, "correlation_id", None)


def hop_event_id(message_id: UUID, hop: str, platform: str, qualifier: str = "") -> UUID:
    return derived_id(message_id, f"hop:{hop}:{platform}:{qualifier}")


def hops_batch_id(event_ids: list[str]) -> UUID:
    return derived_id(HOPS_BATCH_NAMESPACE, ",".join(event_ids))


def relayed_batch_id(message_ids: list[str]) -> UUID:
    return derived_id(RELAYED_BATCH_NAMESPACE, ",".join(message_ids))


RELAYED_BATCH_NAMESPACE = UUID("9d1f3b7a-6c2e-4f80-b1a4-3e5d7c9f0a62")
HOPS_BATCH_NAMESPACE = UUID("5a0f7c1e-3b1d-4e8a-9c55-0d6f2e8b7a41")
