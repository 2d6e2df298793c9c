"""Wire names of contracts: the AMQP `type` property names the model a body parses into."""

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from shared.contracts.events import (
    BatchRelayed,
    CheckpointPublished,
    HopRecorded,
    HopsRecorded,
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
HOPS_RECORDED = "pcms.hops_recorded"
CHECKPOINT_PUBLISHED = "pcms.checkpoint_published"
MATCH_FOUND = "pcms.match_found"
BATCH_RELAYED = "pcms.batch_relayed"

_EVENTS: dict[str, type[BaseModel]] = {
    MESSAGE_ENRICHED: MessageEnriched,
    MESSAGE_DISPATCHED: MessageDispatched,
    ROUTING_DECIDED: RoutingDecided,
    HOP_RECORDED: HopRecorded,
    HOPS_RECORDED: HopsRecorded,
    CHECKPOINT_PUBLISHED: CheckpointPublished,
    MATCH_FOUND: MatchFound,
    BATCH_RELAYED: BatchRelayed,
}
_NAME_OF = {model: name for name, model in _EVENTS.items()}
# what a relay may join in a BatchRelayed (1.3): the messages and events of the pipeline, whose consumers read
# batches; hops have their own batch (HopsRecorded), checkpoints travel alone
JOINABLE = frozenset({MESSAGE, MESSAGE_ENRICHED, MESSAGE_DISPATCHED, ROUTING_DECIDED, MATCH_FOUND})
WIRE_TYPES = frozenset({MESSAGE, *_EVENTS})


class UnknownWireType(ValueError):
    pass


def wire_name(model: BaseModel) -> str:
    return _NAME_OF.get(type(model), MESSAGE)


def parse(type_name: str | None, body: bytes, headers: Mapping[str, Any] | None = None) -> BaseModel:
    """Raises UnknownWireType for an unknown type, IncompatibleVersion (a ValueError) for another major
    version, pydantic.ValidationError for a bad body. A newer minor's unknown fields are ignored
    (shared/contracts/versioning.py); `headers` are the AMQP headers (x-pcms-schema-version).

    Whatever the bytes, only these errors (all ValueErrors) leave it, and the runtime quarantines them
    (tests/security/test_decoder_fuzz.py). What it accepts, the schema admits:
    * strictly typed: a value of another JSON type is refused, not coerced (pydantic would read
      "created_at": 1764410100 as a timestamp and "size": "3" as a number; the schemas admit neither);
    * NaN and Infinity are refused anywhere (not JSON; pydantic would write them back as null);
    * text containing U+0000 is refused: no store keeps it (PostgreSQL text and jsonb cannot), so a
      consumer would fail on it until the message was parked, instead of quarantining it."""
    if type_name == MESSAGE:
        parsed: BaseModel = parse_versioned(partial(MESSAGE_ADAPTER.validate_json, strict=True), body, headers)
    else:
        model = _EVENTS.get(type_name or "")
        if model is None:
            raise UnknownWireType(f"unknown message type {type_name!r}; expected one of {sorted(WIRE_TYPES)}")
        parsed = parse_versioned(partial(model.model_validate_json, strict=True), body, headers)
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    if b"NaN" in raw or b"Infinity" in raw:
        _refuse_non_finite(raw, parsed)  # the contracts refuse them, but fields of any type (canonical) would not
    if _NUL_ESCAPE in raw:
        _refuse_nul(parsed)  # a raw NUL is not JSON; only the escape can put one in a string
    return parsed


_NUL_ESCAPE = b"\\u0000"


class _NonFinite(Exception):
    pass


def _non_finite(token: str) -> Any:
    raise _NonFinite(token)


def _refuse_non_finite(raw: bytes, model: BaseModel) -> None:
    """NaN and Infinity are not JSON (RFC 8259): pydantic reads them and writes them back as null."""
    try:
        json.loads(raw, parse_constant=_non_finite)
    except _NonFinite as token:
        raise ValidationError.from_exception_data(type(model).__name__, [{
            "type": PydanticCustomError("json_invalid", "{token} is not JSON (RFC 8259)", {"token": str(token)}),
            "loc": (), "input": str(token),
        }]) from None
    except (ValueError, RecursionError):
        pass  # pydantic read it; Python's parser has other limits (digits of an integer), not our concern here


def _refuse_nul(model: BaseModel) -> None:
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), model.model_dump())]
    while pending:
        loc, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError.from_exception_data(type(model).__name__, [{
                "type": PydanticCustomError("nul_character", "text must not contain the NUL character (U+0000)"),
                "loc": loc, "input": value,
            }])
        if isinstance(value, dict):
            for key, item in value.items():
                pending.append(((*loc, str(key)), key))
                pending.append(((*loc, str(key)), item))
        elif isinstance(value, (list, tuple)):
            pending.extend(((*loc, index), item) for index, item in enumerate(value))
