"""Secrets are never logged: the one logging configuration redacts them, and every secret setting is a SecretStr."""

import importlib
import io
import json
import logging
import pkgutil
import typing
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr

import services
from shared.logging import REDACTED, redact_secrets
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.unit, pytest.mark.security]

PASSWORD = "s3cr3t-Pa55w0rd-7f1c"
TOKEN = "pcms_tok_4f1d2c4b5a694e7f8a9b0c1d2e3f4a5b"
PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHk3bW9ja2tleW1vY2trZXltb2Nra2V5bW9ja2tleQ==\n-----END PRIVATE KEY-----\n"


def redacted(**event: object) -> dict[str, object]:
    return dict(redact_secrets(None, "info", dict(event)))


@pytest.mark.parametrize("key", ["password", "db_password", "PASSWORD", "token", "api_token", "secret", "client_secret",
                                 "authorization", "Authorization", "api_key", "apiKey", "private_key", "signing_key",
                                 "credentials", "dsn", "passphrase", "cookie"])
def test_a_value_under_a_key_that_names_a_secret_is_redacted(key: str) -> None:
    assert redacted(**{key: PASSWORD})[key] == REDACTED


@pytest.mark.parametrize(("key", "value"), [("token_id", "tok-17"), ("key_id", "MR-20261129-a1b2"), ("user", "pcms-mr"),
                                            ("api_token_cache_seconds", 5.0), ("password_file", "/run/secrets/db"),
                                            ("public_key", "ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ="),
                                            ("token", None), ("event", "token_refused")])
def test_what_only_describes_a_secret_is_kept(key: str, value: object) -> None:
    assert redacted(**{key: value})[key] == value


def test_secret_str_values_are_redacted_at_any_depth() -> None:
    event = redacted(settings={"amqp_url": SecretStr("amqp://u:p@h/"), "nested": [SecretStr(PASSWORD)]})
    assert PASSWORD not in json.dumps(event, default=str)
    assert event["settings"] == {"amqp_url": REDACTED, "nested": [REDACTED]}


@pytest.mark.parametrize("url", [
    f"amqp://pcms-mr:{PASSWORD}@broker.g5.example:5671/pcms",
    f"postgresql://postgres:{PASSWORD}@db.internal:5432/pcms_mr?sslmode=verify-full",
    f"https://{TOKEN}@api.example/v1",
])
def test_urls_lose_their_credentials_wherever_they_are(url: str) -> None:
    event = redacted(event=f"cannot connect to {url}: refused", broker=url, error=["retrying", {"target": url}])
    rendered = json.dumps(event)
    assert PASSWORD not in rendered and TOKEN not in rendered
    assert event["broker"].split("://")[1].startswith("***@")  # host, port and path stay readable
    assert url.split("@")[1] in event["broker"]


def test_authorization_headers_and_private_keys_in_text_are_redacted() -> None:
    event = redacted(headers={"Authorization": f"Bearer {TOKEN}", "accept": "application/json"},
                     exception=f"HTTPStatusError: 401 for Bearer {TOKEN}\n{PEM}", detail="a bearer token is missing")
    rendered = json.dumps(event)
    assert TOKEN not in rendered and "MC4CAQAw" not in rendered
    assert event["headers"]["accept"] == "application/json"
    assert event["detail"] == "a bearer token is missing"  # prose is not a token


def test_the_configured_pipeline_redacts_structlog_and_library_records(captured_logs: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.info("broker_connecting", url=f"amqp://pcms-mr:{PASSWORD}@127.0.0.1:5672/", password=PASSWORD)
    structlog.contextvars.bind_contextvars(token=TOKEN)
    log.warning("request_refused", authorization=f"Bearer {TOKEN}")
    structlog.contextvars.unbind_contextvars("token")
    try:
        raise ConnectionError(f"cannot reach postgresql://postgres:{PASSWORD}@db:5432/pcms_mr")
    except ConnectionError:
        log.exception("database_unreachable")
        logging.getLogger("aio_pika").error("connection to amqp://guest:%s@broker/ lost", PASSWORD, exc_info=True)
    output = captured_logs.getvalue()
    assert output.count("\n") == 4, output
    records = [json.loads(line) for line in output.splitlines()]
    assert [record["event"] for record in records[:3]] == ["broker_connecting", "request_refused", "database_unreachable"]
    assert records[0]["url"] == "amqp://***@127.0.0.1:5672/" and records[0]["password"] == REDACTED
    assert records[1]["token"] == REDACTED
    assert "Traceback" in records[2]["exception"] and "***@db:5432" in records[2]["exception"]
    assert records[3]["event"] == "connection to amqp://***@broker/ lost"
    assert PASSWORD not in output and TOKEN not in output


# --- every secret setting is a SecretStr -----------------------------------------------------------

SECRET_NAMES = ("password", "secret", "token", "api_key", "private_key", "credential", "url", "dsn")


def settings_classes() -> list[type[ServiceSettings]]:
    for module in pkgutil.iter_modules(services.__path__):
        if (Path(services.__path__[0]) / module.name / "settings.py").exists():
            importlib.import_module(f"services.{module.name}.settings")
    found, pending = [ServiceSettings], [ServiceSettings]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


def test_every_service_has_its_settings_checked() -> None:
    names = {cls.__module__ for cls in settings_classes()}
    assert {f"services.{name}.settings" for name in ("intake", "routing", "enrichment", "audit")} <= names


@pytest.mark.parametrize("settings_class", settings_classes(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_setting_that_holds_a_secret_is_a_secret_str(settings_class: type[ServiceSettings]) -> None:
    for name, info in settings_class.model_fields.items():
        if not any(word in name for word in SECRET_NAMES):
            continue
        kinds = set(typing.get_args(info.annotation)) or {info.annotation}
        if kinds & {str, bytes}:
            pytest.fail(f"{settings_class.__name__}.{name} holds a secret as plain {info.annotation}: make it SecretStr")


def test_settings_never_show_their_secrets() -> None:
    settings = ServiceSettings(platform="MR", amqp_url=f"amqp://pcms-mr:{PASSWORD}@h/",
                               database_url=f"postgresql://postgres:{PASSWORD}@db/postgres")
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert PASSWORD not in json.dumps(redacted(settings=settings.model_dump()), default=str)
