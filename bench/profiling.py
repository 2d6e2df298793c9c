"""Sampling profiles of the service processes with py-spy (`pip install py-spy`), and what dominates them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

IDLE = ("EpollSelector.select", "select (selectors.py)")
OWN_CODE = ("services/", "shared/")
BOILERPLATE = ("<module>", "run_service", "main (")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def start(pids: dict[str, int], seconds: float, out_dir: Path) -> list[tuple[str, Path, subprocess.Popen]]:
    """py-spy record on each process for `seconds` (collapsed stacks, by function), sampling only the thread that
    holds the GIL: Python's own CPU. Time in system calls (socket sends, waits) is left out; on a loaded two-core
    host it mostly measures being descheduled, and the processes' CPU seconds are reported beside it."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for name, pid in pids.items():
        path = out_dir / f"{name.replace('@', '-')}.txt"
        process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "67", "--function",
             "--gil", "--nonblocking", "--format", "raw", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running.append((name, path, process))
    return running


def finish(running: list[tuple[str, Path, subprocess.Popen]], top: int = 12) -> dict[str, Any]:
    found = {}
    for name, path, process in running:
        try:
            _, error = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            error = b"timed out"
        found[name] = summarise(path.read_text() if path.exists() else "", top=top) | (
            {"error": error.decode(errors="replace")[-300:]} if process.returncode else {})
        found[name]["file"] = str(path)
    return found


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def summarise(collapsed: str, *, top: int = 12) -> dict[str, Any]:
    """Self shares (any function) and inclusive shares (the project's own functions) of the busy samples,
    from py-spy's collapsed stacks; samples waiting in the event loop's select are left out."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if frames[-1].startswith(IDLE):  # waiting in the event loop's select: not work
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if frame.split(" (", 1)[-1].startswith(OWN_CODE) and not frame.startswith(BOILERPLATE):
                inclusive[frame] += samples

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": f, "percent": round(100 * n / total, 1)} for f, n in counter.most_common(top)]

    return {"samples": total, "self": share(own), "inclusive": share(inclusive)}
