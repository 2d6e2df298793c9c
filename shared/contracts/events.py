"""Events the hub's services and every platform emit about messages."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import StringConstraints

from shared.contracts.base import Contract, field
from shared.contracts.common import PlatformCode, ShortText
from shared.contracts.messages import MESSAGE_ID_EXAMPLE, Message

_MESSAGE_EXAMPLE = {
    "message_id": MESSAGE_ID_EXAMPLE,
    "origin": "NE",
    "created_at": "2026-11-29T10:15:00Z",
    "kind": "alert",
    "submitted_by": "police",
    "evaluation": {"source": "B", "information": "2"},
    "body": {"alert_type": "wanted_person", "summary": "Wanted for armed robbery."},
}


class EntityType(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    VEHICLE = "vehicle"
    DOCUMENT = "document"
    FIREARM = "firearm"
    PHONE = "phone"
    PLACE = "place"


class MatchOutcome(StrEnum):
    HIT = "hit"
    REVIEW = "review"


class NormalisedEntity(Contract):
    entity_type: EntityType = field("Kind of entity.", "person")
    position: int = field("Index of the entity in its list in the message body.", 0, ge=0)
    keys: list[ShortText] = field(
        "Normalised keys the hub indexes this entity under, as type:value.",
        ["name:mohamed ahmed", "phone:+22790123456"],
    )
    canonical: dict[str, Any] = field(
        "The entity in canonical form (folded names, E.164 phones, ISO alpha-2 countries).",
        {"names": ["mohamed ould ahmed"], "nationality": "MR"},
    )


class Hit(Contract):
    entity_type: EntityType = field("Kind of entity that matched.", "person")
    position: int = field("Index of the entity in this message.", 0, ge=0)
    key: ShortText = field("The normalised key both records share.", "doc:passport:MR:B0987654")
    matched_message_id: UUID = field("Message that holds the other record.", MESSAGE_ID_EXAMPLE)
    matched_platform: PlatformCode = field("Platform that owns the other record.", "TD")
    score: float = field("Match score between 0 and 1.", 1.0, ge=0, le=1)
    outcome: MatchOutcome = field("hit, or review by an analyst.", "hit")
    explanation: list[ShortText] = field(
        "Which parts matched and how.", ["passport number identical"], default_factory=list
    )


class Enrichment(Contract):
    entities: list[NormalisedEntity] = field(
        "Every entity of the message, normalised.",
        [{"entity_type": "phone", "position": 0, "keys": ["phone:+22790123456"], "canonical": {"e164": "+22790123456"}}],
        default_factory=list,
    )
    hits: list[Hit] = field("Cross-matches against records the hub already holds.", [], default_factory=list)


class MessageEnriched(Contract):
    message: Message = field("The message as the origin published it.", _MESSAGE_EXAMPLE)
    enrichment: Enrichment = field("What the hub found.", {"entities": [], "hits": []})
    enriched_at: datetime = field("When enrichment finished.", "2026-11-29T10:15:01Z")


class MessageDispatched(Contract):
    message: Message = field("The message delivered.", _MESSAGE_EXAMPLE)
    recipient: PlatformCode = field("Platform this copy is for.", "ML")
    hits: list[Hit] = field("Cross-matches the recipient may see.", [], default_factory=list)
    rule: ShortText = field("Routing rule that sent it here.", "alert-to-all-active-members")
    dispatched_at: datetime = field("When routing sent it.", "2026-11-29T10:15:01Z")


class RefusedRecipient(Contract):
    platform: PlatformCode = field("Platform that will not receive the message.", "BF")
    reason: ShortText = field("Why.", "member is withdrawn")


class RoutingDecided(Contract):
    message_id: UUID = field("Message routed.", MESSAGE_ID_EXAMPLE)
    correlation_id: UUID = field("Correlation of the message routed.", MESSAGE_ID_EXAMPLE)
    origin: PlatformCode = field("Origin of the message routed.", "NE")
    recipients: list[PlatformCode] = field("Platforms the message was dispatched to.", ["MR", "TD", "HUB"])
    refused: list[RefusedRecipient] = field(
        "Requested platforms that were refused, with the reason.",
        [{"platform": "BF", "reason": "member is withdrawn"}],
        default_factory=list,
    )
    rule: ShortText = field("Routing rule applied.", "alert-to-all-active-members")
    decided_at: datetime = field("When routing decided.", "2026-11-29T10:15:01Z")
    held: list[PlatformCode] = field(
        "Suspended members whose copy the hub holds until they are reinstated (since 1.1).", ["TD"],
        default_factory=list,
    )


class Hop(StrEnum):
    ACCEPTED = "accepted"
    PUBLISHED = "published"
    ENRICHED = "enriched"
    ROUTED = "routed"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    QUARANTINED = "quarantined"
    READ = "read"


AuditDetailValue = str | int | float | bool | None | list[str]


class HopRecorded(Contract):
    event_id: UUID = field("Unique id of this audit event (for deduplication).", "6d3c1f0e-0a9b-4c55-8b2e-7e1b2f3c4d5e")
    message_id: UUID = field("Message the hop concerns.", MESSAGE_ID_EXAMPLE)
    correlation_id: UUID | None = field("Correlation of the message.", MESSAGE_ID_EXAMPLE, default=None)
    kind: Annotated[str, StringConstraints(max_length=40)] | None = field("Kind of the message.", "alert", default=None)
    hop: Hop = field("What happened to the message.", "delivered")
    platform: PlatformCode = field("Platform where it happened.", "ML")
    service: ShortText = field("Service that recorded it.", "intake")
    actor: ShortText | None = field("Officer or system account that caused it.", None, default=None)
    at: datetime = field("When it happened (UTC).", "2026-11-29T10:15:02Z")
    detail: dict[str, AuditDetailValue] = field(
        "Facts of the hop: recipients, rule, reason...", {"origin": "NE", "recipients": ["ML", "MR"]}, default_factory=dict
    )


_HOP_EXAMPLE = {
    "event_id": "6d3c1f0e-0a9b-4c55-8b2e-7e1b2f3c4d5e", "message_id": MESSAGE_ID_EXAMPLE,
    "correlation_id": MESSAGE_ID_EXAMPLE, "kind": "alert", "hop": "published", "platform": "NE", "service": "relay",
    "actor": None, "at": "2026-11-29T10:15:02Z", "detail": {"exchange": "pcms.platform.NE"},
}
MAX_HOPS_PER_BATCH = 1000


class HopsRecorded(Contract):
    """Hops one platform's service recorded, sent together: one broker message for the audit events of many
    messages (the outbox relay joins the hops it publishes in one round). Each is appended on its own."""

    batch_id: UUID = field("Id of this batch (its AMQP message_id); derived from the event ids it holds.",
                           "0b5e9a55-31c4-5d8e-9a52-4b3c0c6f2d10")
    hops: list[HopRecorded] = field("The audit events, in the order they were recorded.", [_HOP_EXAMPLE],
                                    min_length=1, max_length=MAX_HOPS_PER_BATCH)


MAX_ITEMS_PER_BATCH = 500
MAX_ITEM_BODY_CHARS = 2_000_000  # an item is a whole contract, read against its own (tighter) limits when handled
WireType = Annotated[str, StringConstraints(pattern=r"^pcms\.[a-z_]{1,60}$")]


class BatchItem(Contract):
    """One contract inside a batch: its own id, correlation and JSON document, as it would travel alone."""

    message_id: UUID = field("The id it travels under alone (its AMQP message_id).", MESSAGE_ID_EXAMPLE)
    correlation_id: UUID | None = field("Its correlation id (its AMQP correlation_id).", MESSAGE_ID_EXAMPLE,
                                        default=None)
    body: Annotated[str, StringConstraints(min_length=2, max_length=MAX_ITEM_BODY_CHARS)] = field(
        "Its JSON document, as text: read against the contract `item_type` names, exactly as if it came alone.",
        '{"message_id": "00000000-0000-0000-0000-000000001001", "origin": "NE"}')


class BatchRelayed(Contract):
    """Contracts of one type for one destination, sent together (since 1.3): the outbox relay joins what one
    round publishes to the same exchange and routing key, so that a backlog travels and is handled in batches
    (one broker message, one signature, one transaction). Each item is read, checked and handled as if it had
    come alone, and is applied once, by its own id."""

    batch_id: UUID = field("Id of this batch (its AMQP message_id); derived from the ids of its items.",
                           "0b5e9a55-31c4-5d8e-9a52-4b3c0c6f2d11")
    item_type: WireType = field("Wire type of every item (an AMQP `type` other than a batch's).", "pcms.message")
    items: list[BatchItem] = field(
        "The contracts, in the order they were committed.",
        [{"message_id": MESSAGE_ID_EXAMPLE, "correlation_id": MESSAGE_ID_EXAMPLE,
          "body": '{"message_id": "00000000-0000-0000-0000-000000001001", "origin": "NE"}'}],
        min_length=1, max_length=MAX_ITEMS_PER_BATCH)


Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_EXAMPLE_LEAF = "fcf0a6c700dd13e274b6fba8deea8dd9b26e4eedde3495717cac8408c9c5177f"


class CheckpointPublished(Contract):
    """A signed checkpoint of a platform's audit log, sent to every platform's witness."""

    log_id: ShortText = field("Identity of the audit log the checkpoint commits to.", "pcms.g5sahel/audit/HUB")
    platform: PlatformCode = field("Platform that keeps the log and signed the checkpoint.", "HUB")
    size: int = field("Number of entries covered: the entries with seq 0 to size - 1.", 3, ge=0)
    root: Hex32 = field(
        "RFC 6962 Merkle root of the first `size` entries, hex.",
        "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688",
    )
    at: datetime = field("When the checkpoint was signed (UTC, microseconds are signed).", "2026-11-29T10:15:02Z")
    key_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}$")] = field(
        "First 4 bytes of SHA-256 of the signer's raw Ed25519 public key, hex.", "65b60673"
    )
    signature: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")] = field(
        "Ed25519 signature over the checkpoint body (log id, size, root, time), base64.",
        "SQsIybK5/VGrc1KjNu4+4dyG/UOgMPjuN9kOXa986JL61IBxRFo3B/j7+YH97Yq53BBQORJsjAdjjYDty9h3CA==",
    )
    public_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")] | None = field(
        "The signer's raw Ed25519 public key, base64; a witness uses it only if it is configured to trust it "
        "or, in development, on first use.",
        "ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ=",
        default=None,
    )
    previous_size: int = field("Size of the log's previous checkpoint (0 for its first).", 2, ge=0)
    consistency_proof: list[Hex32] = field(
        "RFC 6962 consistency proof that the tree of previous_size entries is a prefix of this one, hex hashes.",
        [_EXAMPLE_LEAF],
        max_length=128,
    )
    leaf_hashes: list[Hex32] = field(
        "Leaf hashes of the entries previous_size to size - 1, in order, hex; empty when there were too many "
        "to send. Witnesses keep them as their reference copy of the log.",
        [_EXAMPLE_LEAF],
        default_factory=list,
    )


class MatchFound(Contract):
    """A hit notification: the hub found records of two platforms that concern the same entity (since 1.1)."""

    notification_id: UUID = field("Unique id of this notification.", "3f1d2c4b-5a69-4e7f-8a9b-0c1d2e3f4a5b")
    message_id: UUID = field("The new message whose entities matched.", MESSAGE_ID_EXAMPLE)
    origin: PlatformCode = field("Origin of the new message.", "ML")
    kind: Annotated[str, StringConstraints(max_length=40)] = field("Kind of the new message.", "report")
    handling_code: ShortText = field("Handling code of the new message.", "H0")
    recipient: PlatformCode = field("Platform this notification is for.", "NE")
    hits: list[Hit] = field(
        "The hits; references only (no key, no explanation) when a handling code forbids dissemination.",
        [{"entity_type": "person", "position": 0, "key": "reference-only",
          "matched_message_id": MESSAGE_ID_EXAMPLE, "matched_platform": "NE", "score": 0.93, "outcome": "hit"}],
    )
    references_only: bool = field("True when the data must move on a follow-up request.", False)
    notified_at: datetime = field("When routing sent it.", "2026-11-29T10:15:01Z")
