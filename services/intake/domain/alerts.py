"""What recipients see of an alert: active, updated, cancelled or expired."""

from datetime import datetime


def alert_state(stored: str | None, valid_until: datetime | None, now: datetime) -> str:
    if stored in ("updated", "cancelled"):
        return stored
    if valid_until is not None and valid_until <= now:
        return "expired"
    return "active"
