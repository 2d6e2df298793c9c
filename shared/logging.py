"""structlog, configured in one place: JSON in services, console on a terminal. Secrets are never logged:
every record, ours and the libraries', passes `redact_secrets` before it is rendered."""

import functools
import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import orjson
import structlog
from pydantic import SecretBytes, SecretStr

REDACTED = "[redacted]"
# a key naming a secret: its value is never written, whatever it is
SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|authori[sz]ation|cookie|api[_-]?key|private[_-]?key|signing[_-]?key|"
    r"credential|bearer|dsn",
    re.IGNORECASE,
)
# ... unless it only describes one (an id, a count, a file name, a time)
NOT_A_SECRET = re.compile(
    r"(_|^)(id|ids|prefix|count|seconds|ms|at|file|dir|path|kind|type|role|roles|user|status|outcome|expired|valid|"
    r"required|length)$",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.\-]*://)[^\s/@'\"<>]+@", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer|BEARER|bearer) +[A-Za-z0-9._~+/=\-]{16,}")  # a token, not the word in prose
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)
_MAX_DEPTH = 8


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _names_a_secret(key)


@functools.lru_cache(maxsize=4096)
def _names_a_secret(key: str) -> bool:
    """Log records reuse a few dozen key names: each is judged once (two regular expressions)."""
    return bool(SECRET_KEY.search(key)) and not NOT_A_SECRET.search(key)


def redact_text(text: str) -> str:
    """URLs lose their userinfo (amqp://***@host/), Authorization values and PEM private keys are cut out."""
    if "://" in text:
        text = _URL_USERINFO.sub(r"\1***@", text)
    if "earer " in text or "EARER " in text:
        text = _BEARER.sub(lambda match: f"{match[1]} {REDACTED}", text)
    if "PRIVATE KEY" in text:
        text = _PEM_PRIVATE_KEY.sub(REDACTED, text)
    return text


def redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, (SecretStr, SecretBytes)):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {key: REDACTED if is_secret_key(key) and item is not None else redact(item, depth + 1)
                for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(redact(item, depth + 1) for item in value) if not hasattr(value, "_fields") else value
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: values of keys that name secrets, SecretStr values, credentials in URLs and
    Authorization headers anywhere in the record (the event, exceptions, nested dicts) never reach a log.

    Every consumed message writes a record, so the common values (plain text, numbers) are judged inline."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # structlog's own (the stdlib record)
            continue
        if value is not None and is_secret_key(key):
            event_dict[key] = REDACTED
        elif type(value) is str:
            event_dict[key] = redact_text(value)
        elif type(value) not in _PLAIN:
            event_dict[key] = redact(value)
    return event_dict


_PLAIN = frozenset({int, float, bool, type(None)})


def render_json(value: Any, **options: Any) -> str:
    """structlog's JSONRenderer serializer: orjson (one record per consumed message), keys of any type, and
    what it cannot write given to structlog's fallback (repr)."""
    try:
        return orjson.dumps(value, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say: a record is never lost to its rendering
        return json.dumps(value, **options)


def configure_logging(
    *, service: str, platform: str, fmt: Literal["auto", "json", "console"] = "auto", level: str = "INFO"
) -> None:
    renderer: structlog.typing.Processor
    if fmt == "console" or (fmt == "auto" and sys.stderr.isatty()):
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(serializer=render_json)
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.processors.format_exc_info, redact_secrets, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared_processors, processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
            redact_secrets, renderer,
        ])
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service, platform=platform)


class bound_to_log:
    """Binds keys to every log record of the block, then restores what they were: structlog's
    `bound_contextvars`, without copying the whole context to save what it overrides (it runs for every consumed
    message): each key's previous value comes back by its token."""

    __slots__ = ("_keys", "_tokens")

    def __init__(self, **keys: Any) -> None:
        self._keys = keys
        self._tokens: Mapping[str, Any] = {}

    def __enter__(self) -> None:
        self._tokens = structlog.contextvars.bind_contextvars(**self._keys)

    def __exit__(self, *_: object) -> None:
        structlog.contextvars.reset_contextvars(**self._tokens)
