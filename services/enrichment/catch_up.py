"""The in-memory matcher catches up with the store of record, in rounds, for what a commit did not feed it."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from services.enrichment.domain.regional import MATCHABLE_TYPES, RegionalMatcher
from services.enrichment.ports import RegionalIndex

log = structlog.get_logger("enrichment")


async def catch_up(matcher: RegionalMatcher, index: RegionalIndex, *, after: int, chunk: int = 5_000) -> tuple[int, int]:
    """Adds to the matcher the messages stored after place `after` that it does not hold; returns the newest place
    read and how many messages it added.

    The matcher is fed after each commit. When the database goes away during a COMMIT that it carried out, the
    handler sees an error, the message comes back as a duplicate of its own claim, and nothing feeds the matcher:
    without this, later messages would not be matched against it until the service restarted."""
    since = await index.stored_since(after, entity_types=sorted(MATCHABLE_TYPES))
    missing: list[UUID] = []
    for start in range(0, len(since.message_ids), chunk):
        missing += [m for m in since.message_ids[start : start + chunk] if not matcher.holds(m)]
        await asyncio.sleep(0)  # an import stores thousands of messages a round; alerts go on meanwhile
    if not missing:
        return since.newest, 0
    rows = await index.entities_of(missing, entity_types=sorted(MATCHABLE_TYPES))
    before = matcher.messages
    matcher.load(rows)  # skips what a commit fed it meanwhile
    matcher.finish_loading()
    return since.newest, matcher.messages - before


@dataclass
class CatchUpWindow:
    """Where each round of catching up starts: after the newest place the round before last read. Places are
    taken at insert, not at commit, so a row can become visible after rows placed above it; each stretch is read
    by two rounds, and a row whose transaction took less than a round to commit is read by one of them."""

    floor: int
    newest: int

    def after_round(self, newest: int) -> None:
        self.floor, self.newest = self.newest, max(self.newest, newest)


@dataclass
class CatchUpRounds:
    """What the rounds have done since the service started, for /healthz."""

    rounds: int = 0
    messages_added: int = 0
    last_round_at: datetime | None = None
    last_error: str | None = None

    def view(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "messages_added": self.messages_added,
                "last_round_at": self.last_round_at.isoformat() if self.last_round_at else None,
                "last_error": self.last_error}


async def keep_caught_up(matcher: RegionalMatcher, index: RegionalIndex, *, since: int, every_seconds: float,
                         rounds: CatchUpRounds, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    window = CatchUpWindow(since, since)
    while True:
        await asyncio.sleep(every_seconds)
        try:
            newest, added = await catch_up(matcher, index, after=window.floor)
        except Exception as error:  # the next round reads the same stretch again; the consumers go on meanwhile
            rounds.last_error = repr(error)
            log.warning("regional_index_catch_up_failed", error=repr(error))
            continue
        if added:
            log.warning("regional_index_caught_up", messages=added, after=window.floor, newest=newest)
        window.after_round(newest)
        rounds.rounds, rounds.messages_added = rounds.rounds + 1, rounds.messages_added + added
        rounds.last_round_at, rounds.last_error = clock(), None
