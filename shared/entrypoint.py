"""`python -m services.<name> --platform XX`: every service starts the same way."""

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from shared.settings import ServiceSettings

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run_service(service: str, settings_type: type[SettingsT], main: Callable[[SettingsT], Awaitable[None]]) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}", description=f"PCMS {service} service")
    parser.add_argument("--platform", help="platform code (HUB, MR, NE...); default from PCMS_PLATFORM")
    parser.add_argument("--federation-file", help="federation file; default deploy/federation.yaml")
    args = parser.parse_args()
    overrides = {key: value for key, value in vars(args).items() if value is not None}
    settings = settings_type(**overrides)
    try:
        run_loop(main(settings), settings.event_loop)
    except KeyboardInterrupt:
        pass


def run_loop(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    if event_loop == "uvloop":
        import uvloop  # imported here: a process on Python's own loop never needs it installed

        uvloop.run(main)
    else:
        asyncio.run(main)
