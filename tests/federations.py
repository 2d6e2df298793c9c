"""Federations for tests, built as data like the real one."""

from pathlib import Path

import yaml

from shared.federation import Federation

MEMBERS = {"MR": "Mauritania", "ML": "Mali", "BF": "Burkina Faso", "NE": "Niger", "TD": "Chad"}


def federation_dict(ports: dict[str, int] | None = None, broker_user_prefix: str = "pcms-", **statuses: str) -> dict:
    ports = ports or {}
    platforms = [{"code": "HUB", "role": "hub", "name": "Regional Platform", "city": "Nouakchott", "country": "MR",
                  "status": "active", "api_port": ports.get("HUB", 8000)}]
    for index, (code, name) in enumerate(MEMBERS.items(), start=1):
        platforms.append({"code": code, "role": "member", "name": name, "city": name, "country": code,
                          "status": statuses.get(code, "active"), "api_port": ports.get(code, 8000 + index)})
    return {"version": 1, "platforms": platforms, "broker_user_prefix": broker_user_prefix}


def federation_with(**statuses: str) -> Federation:
    return Federation.model_validate(federation_dict(**statuses))


def write_federation(path: Path, ports: dict[str, int], broker_user_prefix: str = "pcms-", **statuses: str) -> Path:
    path.write_text(yaml.safe_dump(federation_dict(ports, broker_user_prefix, **statuses)), encoding="utf-8")
    return path
