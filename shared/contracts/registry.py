"""Wire names of contracts: the AMQP `type` property names the model a body parses into."""

from pydantic import BaseModel, TypeAdapter

from shared.contracts.events import HopRecorded, MessageDispatched, MessageEnriched, RoutingDecided
from shared.contracts.messages import MESSAGE_ADAPTER

MESSAGE = "pcms.message"
MESSAGE_ENRICHED = "pcms.message_enriched"
MESSAGE_DISPATCHED = "pcms.message_dispatched"
ROUTING_DECIDED = "pcms.routing_decided"
HOP_RECORDED = "pcms.hop_recorded"

_EVENTS: dict[str, type[BaseModel]] = {
    MESSAGE_ENRICHED: MessageEnriched,
    MESSAGE_DISPATCHED: MessageDispatched,
    ROUTING_DECIDED: RoutingDecided,
    HOP_RECORDED: HopRecorded,
}
_NAME_OF = {model: name for name, model in _EVENTS.items()}
WIRE_TYPES = frozenset({MESSAGE, *_EVENTS})


class UnknownWireType(ValueError):
    pass


def wire_name(model: BaseModel) -> str:
    return _NAME_OF.get(type(model), MESSAGE)


def parse(type_name: str | None, body: bytes) -> BaseModel:
    """Raises UnknownWireType for an unknown type, pydantic.ValidationError for a bad body."""
    if type_name == MESSAGE:
        return MESSAGE_ADAPTER.validate_json(body)
    model = _EVENTS.get(type_name or "")
    if model is None:
        raise UnknownWireType(f"unknown message type {type_name!r}; expected one of {sorted(WIRE_TYPES)}")
    return model.model_validate_json(body)
