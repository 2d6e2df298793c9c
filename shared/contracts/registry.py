"""Wire names of contracts: the AMQP `type` property names the model a body parses into."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from shared.contracts.events import (
    CheckpointPublished,
    HopRecorded,
    MatchFound,
    MessageDispatched,
    MessageEnriched,
    RoutingDecided,
)
from shared.contracts.messages import MESSAGE_ADAPTER
from shared.contracts.versioning import parse_versioned

MESSAGE = "pcms.message"
MESSAGE_ENRICHED = "pcms.message_enriched"
MESSAGE_DISPATCHED = "pcms.message_dispatched"
ROUTING_DECIDED = "pcms.routing_decided"
HOP_RECORDED = "pcms.hop_recorded"
CHECKPOINT_PUBLISHED = "pcms.checkpoint_published"
MATCH_FOUND = "pcms.match_found"

_EVENTS: dict[str, type[BaseModel]] = {
    MESSAGE_ENRICHED: MessageEnriched,
    MESSAGE_DISPATCHED: MessageDispatched,
    ROUTING_DECIDED: RoutingDecided,
    HOP_RECORDED: HopRecorded,
    CHECKPOINT_PUBLISHED: CheckpointPublished,
    MATCH_FOUND: MatchFound,
}
_NAME_OF = {model: name for name, model in _EVENTS.items()}
WIRE_TYPES = frozenset({MESSAGE, *_EVENTS})


class UnknownWireType(ValueError):
    pass


def wire_name(model: BaseModel) -> str:
    return _NAME_OF.get(type(model), MESSAGE)


def parse(type_name: str | None, body: bytes, headers: Mapping[str, Any] | None = None) -> BaseModel:
    """Raises UnknownWireType for an unknown type, IncompatibleVersion (a ValueError) for another major
    version, pydantic.ValidationError for a bad body. A newer minor's unknown fields are ignored
    (shared/contracts/versioning.py); `headers` are the AMQP headers (x-pcms-schema-version)."""
    if type_name == MESSAGE:
        return parse_versioned(MESSAGE_ADAPTER.validate_json, body, headers)
    model = _EVENTS.get(type_name or "")
    if model is None:
        raise UnknownWireType(f"unknown message type {type_name!r}; expected one of {sorted(WIRE_TYPES)}")
    return parse_versioned(model.model_validate_json, body, headers)
