"""The outbox relay: publishes committed outbox rows with confirms, deletes them after the confirm."""

import asyncio
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import structlog

from shared.contracts.registry import HOP_RECORDED, MATCH_FOUND, ROUTING_DECIDED
from shared.messaging import names
from shared.messaging.batches import publications
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.ports import OutboxBatch, Publisher

log = structlog.get_logger("relay")


ALL_PRIORITIES = (-32768, 32767)
URGENT_ONLY = (names.LANE_PRIORITY[names.URGENT], 32767)
ALL_BUT_URGENT = (-32768, names.LANE_PRIORITY[names.URGENT] - 1)


# Rows that tell of a message rather than carry it: the audit's hops, the origin's routing decision, the hit
# notifications. No recipient waits for them, so they may wait a moment for company and leave joined.
LINGERING_TYPES = frozenset({HOP_RECORDED, ROUTING_DECIDED, MATCH_FOUND})


def lingers(message_type: str) -> bool:
    return message_type in LINGERING_TYPES


def kinds_of(messages: Iterable[OutgoingMessage]) -> set[tuple[int, str]]:
    """The (priority, type) of outbox rows: what the relay needs to know to wake only the rounds that take them."""
    return {(message.priority, message.type) for message in messages}


class Rows(StrEnum):
    """Which unsent rows a round takes: those that go at once, those that may linger, or all of them."""

    ALL = "all"
    PROMPT = "prompt"
    LINGERING = "lingering"

    def takes(self, message_type: str) -> bool:
        return self is Rows.ALL or lingers(message_type) == (self is Rows.LINGERING)


@dataclass(frozen=True)
class Band:
    """The rows one relay loop takes."""

    priorities: tuple[int, int]
    rows: Rows


URGENT_PROMPT = Band(URGENT_ONLY, Rows.PROMPT)
LOWER_PROMPT = Band(ALL_BUT_URGENT, Rows.PROMPT)
LINGERING = Band(ALL_PRIORITIES, Rows.LINGERING)


class OutboxStore(Protocol):
    def take(
        self, limit: int, *, priorities: tuple[int, int] = ALL_PRIORITIES, rows: Rows = Rows.ALL
    ) -> AbstractAsyncContextManager[OutboxBatch]:
        """Unsent `rows` whose priority is within `priorities` (inclusive), highest priority first, then oldest. A
        round of lingering rows, or of rows below the urgent lane, never takes a connection kept for alerts."""
        ...

    async def unsent_by_priority(self) -> dict[int, int]:
        """Unsent rows by outbox priority."""
        ...

    async def forget_sent(self) -> int:
        """Deletes rows an earlier release marked sent and kept (a sent row is deleted with its confirm now)."""
        ...

    async def reclaim_sent(self) -> None:
        """Frees what sent rows leave behind (dead row versions, their index entries), so a take never walks them;
        without it, only autovacuum would, if the server runs it."""
        ...


class OutboxRelay:
    def __init__(
        self,
        store: OutboxStore,
        publisher: Publisher,
        *,
        batch_size: int,
        lower_batch_size: int | None = None,
        poll_seconds: float,
        linger_seconds: float = 0.0,
        after_sent: Callable[[OutgoingMessage], list[OutgoingMessage]] = lambda _: [],
        max_batch_items: int = 1,
        reclaim_every_sent: int = 5000,
    ) -> None:
        """A round of urgent rows takes up to `batch_size`, a round of the lanes below (or of lingering rows) up to
        `lower_batch_size`: a round waits for the broker's confirms, so a small round keeps an alert from waiting long
        behind the one before it, and a large one lets an import through. `max_batch_items` above 1 joins a round's
        rows for one destination (shared/messaging/batches.py).

        Lingering rows (LINGERING_TYPES) have a loop of their own: woken by a commit, it waits `linger_seconds`
        before its round, so those of every message handled meanwhile leave joined (hops in one HopsRecorded per
        lane, the others in a BatchRelayed per destination). Sent with each message, they were most of an alert's
        deliveries: each hop is consumed by two audits, and an alert with hits told its origin and the hub three
        times more.
        Every `reclaim_every_sent` rows sent, the backlog watcher has the store reclaim them."""
        self._store = store
        self._max_batch_items = max_batch_items
        self._after_sent = after_sent
        self._publisher = publisher
        self._batch_size = batch_size
        self._batch_sizes = {URGENT_ONLY: batch_size, ALL_BUT_URGENT: lower_batch_size or batch_size}
        self._poll_seconds = poll_seconds
        self._linger_seconds = linger_seconds
        self._wakeups = {band: asyncio.Event() for band in (URGENT_PROMPT, LOWER_PROMPT, LINGERING)}
        self.backlog = 0
        self._unsent: dict[int, int] = {}
        self._reclaim_every_sent = reclaim_every_sent
        self._sent_since_reclaim = 0

    def wake(self, committed: Iterable[tuple[int, str]] | None = None) -> None:
        """Rows of these (priority, type) were committed (None: any). Only the rounds that take them run: an empty
        round is still a transaction, and most commits hold only a hop, which only the lingering round takes."""
        kinds = None if committed is None else set(committed)
        for band, wakeup in self._wakeups.items():
            low, high = band.priorities
            if kinds is None or any(low <= priority <= high and band.rows.takes(type_) for priority, type_ in kinds):
                wakeup.set()

    async def relay_once(self, priorities: tuple[int, int] = ALL_PRIORITIES, rows: Rows = Rows.ALL) -> int:
        async with self._store.take(self._size_of(priorities, rows), priorities=priorities, rows=rows) as batch:
            going = publications(batch.rows, max_items=self._max_batch_items)
            results = await asyncio.gather(
                *(self._publisher.publish(publication.message) for publication in going), return_exceptions=True
            )
            for publication, result in zip(going, results):
                if isinstance(result, BaseException):
                    error = f"{type(result).__name__}: {result}"
                    batch.failed.update((row_id, error) for row_id, _ in publication.rows)
                    log.warning("publish_failed", message_id=publication.message.message_id, rows=len(publication.rows),
                                exchange=publication.message.exchange, routing_key=publication.message.routing_key,
                                error=error)
                    continue
                for row_id, message in publication.rows:
                    batch.sent.append(row_id)
                    batch.follow_ups += self._after_sent(message)
        self._sent_since_reclaim += len(batch.sent)
        if batch.follow_ups:
            self.wake(kinds_of(batch.follow_ups))
        return len(batch.rows)

    def _size_of(self, priorities: tuple[int, int], rows: Rows) -> int:
        if rows is Rows.LINGERING:
            return self._batch_sizes[ALL_BUT_URGENT]
        return self._batch_sizes.get(priorities, self._batch_size)

    def note_unsent(self, by_priority: dict[int, int]) -> None:
        self._unsent = dict(by_priority)
        self.backlog = sum(by_priority.values())

    def backlog_for(self, lane: str) -> int:
        """The unsent rows a new message of `lane` would wait behind: those of its lane and of the lanes above it
        (each round takes the highest priority first, and urgent rows have a loop of their own). A backlog of
        imported records therefore never refuses an alert; the lowest lane waits behind every row."""
        if lane == names.LANES[-1]:
            return self.backlog
        floor = names.LANE_PRIORITY[lane]
        return sum(count for priority, count in self._unsent.items() if priority >= floor)

    async def watch_backlog(self, *, every_seconds: float = 2.0) -> None:
        """Keeps the backlog current for backpressure, reclaims what sent rows left behind and forgets rows an
        earlier release marked sent."""
        rounds = 0
        while True:
            try:
                self.note_unsent(await self._store.unsent_by_priority())
                if self._sent_since_reclaim >= self._reclaim_every_sent:
                    self._sent_since_reclaim = 0
                    await self._store.reclaim_sent()
                if rounds % 30 == 0:
                    await self._store.forget_sent()
            except Exception as error:
                log.warning("backlog_check_failed", error=f"{type(error).__name__}: {error}")
            rounds += 1
            await asyncio.sleep(every_seconds)

    async def run(self) -> None:
        """Urgent rows have a relay loop of their own: an alert never waits for a round of routine or bulk rows
        (a bulk round can take seconds when the broker slows confirms down). Each loop keeps its rows' order."""
        await asyncio.gather(*(self._relay_forever(band) for band in self._wakeups), self.watch_backlog())

    async def _relay_forever(self, band: Band) -> None:
        """Relays whenever this process commits outbox rows (wake), and polls for anything else."""
        wakeup, linger = self._wakeups[band], self._linger_seconds if band == LINGERING else 0.0
        failures = 0
        while True:
            wakeup.clear()
            try:
                relayed = await self.relay_once(band.priorities, band.rows)
                failures = 0
            except Exception as error:  # the database or broker is away; keep trying
                failures += 1
                log.warning("relay_failed", error=f"{type(error).__name__}: {error}", attempt=failures)
                await asyncio.sleep(min(0.2 * 2**failures, 5))
                continue
            if relayed < self._size_of(band.priorities, band.rows):
                try:
                    await asyncio.wait_for(wakeup.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    continue
                if linger:
                    await asyncio.sleep(linger)
