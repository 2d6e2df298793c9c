"""Urgent first, inside a process: a message of a lower lane waits while one of a higher lane is being handled.

The lanes have their own queues at every hop, so an alert never waits behind routine messages in a
queue; but a service consumes its lanes side by side, and on a saturated host every routine message
it handles (receipts, decisions, reports) takes CPU an alert then waits for. Here a handler of the
routine lane starts only when no urgent message is being handled, and one of the bulk lane only when
neither is. A waiting message is not lost or refused: it stays unacknowledged (within the prefetch)
until its turn.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.messaging import names

RANK = {lane: rank for rank, lane in enumerate(names.LANES)}  # urgent 0, routine 1, bulk 2


def lane_of_queue(queue: str) -> str | None:
    """The lane of a laned queue (hub.ingress.NE.urgent, hub.routing.routine, inbox.ML.bulk); None for the others."""
    last = queue.rsplit(".", 1)[-1]
    return last if last in RANK else None


class LaneTurns:
    def __init__(self) -> None:
        self._in_flight = dict.fromkeys(names.LANES, 0)
        self._changed = asyncio.Condition()

    def in_flight(self, lane: str) -> int:
        return self._in_flight[lane]

    def _clear_for(self, lane: str) -> bool:
        return all(self._in_flight[higher] == 0 for higher in names.LANES[:RANK[lane]])

    @asynccontextmanager
    async def turn(self, lane: str | None) -> AsyncIterator[None]:
        """Waits until no message of a higher lane is being handled, then counts this one as in flight."""
        if lane is None:
            yield
            return
        async with self._changed:
            await self._changed.wait_for(lambda: self._clear_for(lane))
            self._in_flight[lane] += 1
        try:
            yield
        finally:
            async with self._changed:
                self._in_flight[lane] -= 1
                if self._in_flight[lane] == 0:  # only then can a waiting lower lane go
                    self._changed.notify_all()
