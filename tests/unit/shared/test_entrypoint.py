import asyncio

import pytest
import uvloop

from shared.entrypoint import run_loop
from shared.settings import ServiceSettings

pytestmark = pytest.mark.unit


def loop_type_running(event_loop: str) -> type:
    seen: list[type] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()))

    run_loop(main(), event_loop)
    return seen[0]


def test_a_service_runs_on_uvloop_by_default() -> None:
    assert ServiceSettings(platform="NE").event_loop == "uvloop"
    assert loop_type_running("uvloop") is uvloop.Loop


def test_an_operator_can_put_a_service_back_on_pythons_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCMS_EVENT_LOOP", "asyncio")
    assert ServiceSettings(platform="NE").event_loop == "asyncio"
    assert not issubclass(loop_type_running("asyncio"), uvloop.Loop)


def test_an_unknown_event_loop_is_refused_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCMS_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match="event_loop"):
        ServiceSettings(platform="NE")
