"""A message ready for the broker, built from a contract."""

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel

from shared.contracts.identity import correlation_of, event_id
from shared.contracts.registry import wire_name
from shared.contracts.versioning import SCHEMA_VERSION, VERSION_HEADER


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: bytes
    type: str
    message_id: str
    correlation_id: str | None = None
    priority: int = 0
    headers: dict[str, Any] = field(default_factory=dict)


def with_default_priority(messages: list[OutgoingMessage], priority: int) -> list[OutgoingMessage]:
    """The messages, those that name no priority given this one (a unit of work's lane)."""
    if not priority:
        return messages
    return [message if message.priority else replace(message, priority=priority) for message in messages]


def outgoing(
    model: BaseModel, *, exchange: str, routing_key: str, priority: int = 0, message_json: str | None = None
) -> OutgoingMessage:
    """`message_json`: the model's `message`, already serialized (the copies of one message share it)."""
    correlation = correlation_of(model)
    return OutgoingMessage(
        exchange=exchange,
        routing_key=routing_key,
        body=model.model_dump_json().encode() if message_json is None else json_carrying(model, message_json),
        type=wire_name(model),
        message_id=str(event_id(model)),
        correlation_id=str(correlation) if correlation else None,
        priority=priority,
        headers={VERSION_HEADER: SCHEMA_VERSION},
    )


def json_carrying(model: BaseModel, message_json: str) -> bytes:
    """The model's JSON, byte for byte, with its first field `message` written from `message_json`."""
    if next(iter(type(model).model_fields)) != "message":
        raise ValueError(f"{type(model).__name__} does not carry a message as its first field")
    rest = model.model_dump_json(exclude={"message"})
    return f'{{"message":{message_json}{"," if rest != "{}" else ""}{rest[1:]}'.encode()
