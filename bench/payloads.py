"""What the benchmark sends: alerts like officers write them, stolen-vehicle files, and wire-size samples."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

FIRST = ["Mohamed", "Ahmed", "Abdoulaye", "Ibrahim", "Moussa", "Oumar", "Amadou", "Issa", "Hamidou", "Aliou",
         "Fatimata", "Aminata", "Mariam", "Hadiza", "Zeinabou", "Boubacar", "Souleymane", "Idrissa", "Hassane", "Yacouba"]
LAST = ["Ould Ahmed", "Maiga", "Traoré", "Diallo", "Ouedraogo", "Issoufou", "Mahamat", "Cissé", "Touré", "Sawadogo",
        "Abdallah", "Moussa", "Kaboré", "Haidara", "Ag Ghaly", "Ould Salem", "Dicko", "Sidibé", "Barry", "Hamani"]
COUNTRIES = ["MR", "ML", "BF", "NE", "TD"]
MAKES = [("Toyota", "Land Cruiser"), ("Toyota", "Hilux"), ("Nissan", "Patrol"), ("Mitsubishi", "L200"),
         ("Peugeot", "504"), ("Mercedes", "Actros"), ("Renault", "Kerax"), ("Isuzu", "D-Max")]
COLOURS = ["blanc", "gris", "noir", "beige", "rouge", "bleu"]
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def wanted_person_alert(rng: random.Random) -> dict[str, Any]:
    """A wanted-person alert of the README's shape; names vary so matching works as it would in the field."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "kind": "alert", "submitted_by": "police", "priority": "urgent",
        "evaluation": {"source": "B", "information": "2"},
        "body": {
            "alert_type": "wanted_person",
            "summary": f"Recherché pour attaque armée: {first} {last}, vu vers Ayorou.",
            "entities": {
                "persons": [{"names": [f"{first} {last}"], "birth_date": str(rng.randint(1960, 2004)),
                             "nationality": rng.choice(COUNTRIES)}],
                "phones": [{"number": f"+227 9{rng.randint(0, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                                      f"{rng.randint(10, 99)}"}],
            },
        },
    }


def stolen_vehicle_row(i: int, rng: random.Random) -> dict[str, str]:
    make, model = rng.choice(MAKES)
    return {
        "plate": f"{i % 10_000:04d}-{chr(65 + i // 10_000 % 26)}{chr(65 + i // 260_000 % 26)}-NE",
        "plate_country": "NE",
        "vin": "".join(rng.choice(VIN_CHARS) for _ in range(17)) if rng.random() < 0.7 else "",
        "make": make, "model": model, "colour": rng.choice(COLOURS),
    }


BAD_ROWS = [  # what a real register export gets wrong, and the reason the import must give
    ({"plate": "", "vin": "", "make": "Toyota"}, "plate"),           # neither plate nor VIN
    ({"plate": "12-AB-NE", "vin": "SHORT"}, "vin"),                  # VIN too short
    ({"plate": "34-CD-NE", "plate_country": "niger"}, "plate_country"),  # not a country code
]


def write_stolen_vehicles(path: Path, count: int, *, bad_every: int = 500, seed: int = 8) -> list[int]:
    """A CSV (or .jsonl) of `count` records, every `bad_every`-th one broken; returns the broken lines."""
    rng = random.Random(seed)
    columns = ["plate", "plate_country", "vin", "make", "model", "colour"]
    bad_lines: list[int] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        jsonl = path.suffix == ".jsonl"
        writer = None if jsonl else csv.DictWriter(handle, fieldnames=columns)
        if writer:
            writer.writeheader()
        for i in range(count):
            line = i + 1 if jsonl else i + 2
            if bad_every and i % bad_every == bad_every - 1:
                row, _ = BAD_ROWS[(i // bad_every) % len(BAD_ROWS)]
                row = {key: row.get(key, "") for key in columns}
                bad_lines.append(line)
            else:
                row = stolen_vehicle_row(i, rng)
            if writer:
                writer.writerow(row)
            else:
                handle.write(json.dumps({k: v for k, v in row.items() if v}, ensure_ascii=False) + "\n")
    return bad_lines


def wire_samples(recipients: list[str], origin: str = "NE") -> dict[str, bytes]:
    """The bodies the real services put on the wire for one alert, built with the real contracts
    (so the null pipeline moves messages of the same size)."""
    from shared.contracts.bodies import MAX_ALSO_RECEIVED, AcknowledgementState
    from shared.contracts.events import Hop, HopRecorded, MessageDispatched, RoutingDecided
    from shared.contracts.messages import SUBMIT_ADAPTER, stamp
    from services.intake.domain.acknowledgements import acknowledgement_of

    now = datetime.now(UTC)
    command = SUBMIT_ADAPTER.validate_python(wanted_person_alert(random.Random(1)))
    alert = stamp(command, message_id=uuid4(), origin=origin, created_at=now)
    dispatched = MessageDispatched(message=alert, recipient=recipients[0], hits=[], rule="alert-to-all-active-members",
                                   dispatched_at=now)
    decided = RoutingDecided(message_id=alert.message_id, correlation_id=alert.correlation_id, origin=origin,
                             recipients=recipients, refused=[], rule="alert-to-all-active-members", decided_at=now)
    receipt = stamp(acknowledgement_of(alert, AcknowledgementState.RECEIVED,
                                       also_received=[uuid4() for _ in range(MAX_ALSO_RECEIVED)]),
                    message_id=uuid4(), origin=recipients[0], created_at=now)
    receipt_dispatched = MessageDispatched(message=receipt, recipient=origin, hits=[], rule="acknowledgement-to-origin",
                                           dispatched_at=now)
    hop = HopRecorded(event_id=uuid4(), message_id=alert.message_id, correlation_id=alert.correlation_id, kind="alert",
                      hop=Hop.ROUTED, platform="HUB", service="routing", at=now,
                      detail={"origin": origin, "rule": "alert-to-all-active-members", "recipients": recipients,
                              "refused": []})
    return {
        "message": alert.model_dump_json().encode(),
        "dispatched": dispatched.model_dump_json().encode(),
        "decided": decided.model_dump_json().encode(),
        "receipt": receipt.model_dump_json().encode(),
        "receipt_dispatched": receipt_dispatched.model_dump_json().encode(),
        "hop": hop.model_dump_json().encode(),
    }
