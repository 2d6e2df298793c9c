"""Pure helpers of the benchmark: percentiles, latency summaries, rates and ratios, the printed table."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation between closest ranks (numpy's default); None if empty."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not within 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(milliseconds: Iterable[float]) -> dict[str, Any]:
    values = sorted(milliseconds)
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "count": len(values),
        "p50": _round(percentile(values, 50)),
        "p95": _round(percentile(values, 95)),
        "p99": _round(percentile(values, 99)),
        "max": _round(values[-1]),
        "mean": _round(sum(values) / len(values)),
    }


def per_second(count: int | float, seconds: float | None) -> float | None:
    if not seconds or seconds <= 0:
        return None
    return round(count / seconds, 1)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def fan_out_latencies(submitted: dict[str, float], received: dict[tuple[str, str], float],
                      recipients: Sequence[str]) -> tuple[list[float], list[float]]:
    """Milliseconds from submission to the last recipient's row (per message that reached every recipient)
    and to every single recipient's row (per delivery)."""
    fan_out, deliveries = [], []
    for message_id, at in submitted.items():
        times = [received.get((message_id, code)) for code in recipients]
        arrived = [t for t in times if t is not None]
        deliveries += [(t - at) * 1000 for t in arrived]
        if len(arrived) == len(recipients):
            fan_out.append((max(arrived) - at) * 1000)
    return fan_out, deliveries


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text}{unit}"


def target(value: float | None, limit: float, *, at_most: bool = False) -> str:
    """'met' / 'missed' against a target (figures, never asserts); '-' without a figure."""
    if value is None:
        return "-"
    return "met" if (value <= limit if at_most else value >= limit) else "missed"
