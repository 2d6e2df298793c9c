"""Writes the JSON Schema of every contract, so other implementations can validate what travels.

    python -m shared.contracts.generate          # (re)write everything generated from the contracts (below)
    python -m shared.contracts.generate --check  # exit 1 when anything committed is out of date
    python -m shared.contracts.generate --schemas-only [--check]   # the JSON Schemas only

Generated: the JSON Schemas (working copy shared/contracts/schemas/v<major>/), the frozen release
shared/contracts/schemas/<SCHEMA_VERSION>/ when it does not exist yet (shared/contracts/versioning.py),
docs/asyncapi.yaml (shared/contracts/asyncapi.py) and docs/openapi/<service>.json
(shared/contracts/openapi.py). `make contracts` runs this, then the versioning check.

The output is deterministic (sorted keys, indent 2, trailing newline): regenerating an unchanged
contract leaves the files byte-for-byte identical, so a diff always means the contract changed.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from shared.contracts.base import SCHEMA_VERSION
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
from shared.contracts.folders import folder_differences, write_folder
from shared.contracts.messages import Message, SubmitMessage

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / f"v{SCHEMA_VERSION.split('.')[0]}"

# file stem -> (title, the contract: a model or an annotated union)
CONTRACTS: dict[str, tuple[str, Any]] = {
    "submit_message": ("SubmitMessage", SubmitMessage),
    "message": ("Message", Message),
    "message_enriched": ("MessageEnriched", MessageEnriched),
    "message_dispatched": ("MessageDispatched", MessageDispatched),
    "routing_decided": ("RoutingDecided", RoutingDecided),
    "hop_recorded": ("HopRecorded", HopRecorded),
    "hops_recorded": ("HopsRecorded", HopsRecorded),
    "checkpoint_published": ("CheckpointPublished", CheckpointPublished),
    "match_found": ("MatchFound", MatchFound),
    "batch_relayed": ("BatchRelayed", BatchRelayed),
}


def _schema_of(title: str, contract: Any) -> dict[str, Any]:
    if isinstance(contract, type) and issubclass(contract, BaseModel):
        schema = contract.model_json_schema()
    else:
        schema = TypeAdapter(contract).json_schema()
    schema.setdefault("title", title)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["x-schema-version"] = SCHEMA_VERSION
    return schema


def current_schemas() -> dict[str, dict[str, Any]]:
    """{file name: JSON Schema} of every contract, as the code defines them now."""
    return {f"{stem}.json": _schema_of(title, contract) for stem, (title, contract) in CONTRACTS.items()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def differences(directory: Path = SCHEMA_DIR) -> list[str]:
    """What differs between the committed files and the contracts: one line per file."""
    return folder_differences(directory, {name: render(schema) for name, schema in current_schemas().items()})


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Writes every schema and removes stale ones; returns the files written or removed."""
    return write_folder(directory, {name: render(schema) for name, schema in current_schemas().items()})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if anything committed is out of date")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help=f"schema directory (default {SCHEMA_DIR})")
    parser.add_argument("--schemas-only", action="store_true", help="only the JSON Schemas (no release, AsyncAPI, OpenAPI)")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.dir)
        if problems:
            print("contract schemas are out of date; run `make contracts`:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"contract schemas are up to date ({len(CONTRACTS)} files in {args.dir})")
        if args.schemas_only:
            return 0
        from shared.contracts import asyncapi, openapi

        failed = asyncapi.main(["--check"]) | openapi.main(["--check"])
        return 1 if failed else 0
    changed = write(args.dir)
    for path in changed:
        print(f"updated {path}")
    print(f"{len(CONTRACTS)} contract schemas in {args.dir} ({len(changed)} changed)")
    if args.schemas_only:
        return 0
    from shared.contracts import asyncapi, openapi, versioning

    target, done = versioning.release()
    for line in done:
        print(line)
    print(f"release {versioning.CURRENT}: {target}")
    return asyncapi.main([]) | openapi.main([])


if __name__ == "__main__":
    sys.exit(main())
