"""Connections by lane: an alert's handler never queues for a database connection behind routine or bulk work.

A batch holds one connection for the whole of its transaction (shared/db/uow.py: SharedTransaction), and a
bulk batch of a hundred records holds it for hundreds of milliseconds. With every lane drawing on one pool,
an urgent handler waited behind them: during an import it queued for up to 1.3 s at the hub's enrichment.
Here routine and bulk work may hold at most `pool size - reserved` connections between them, and bulk work
at most `bulk` of those, so `reserved` connections are always left for the urgent lane and the urgent relay.
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from shared.messaging import names


class ConnectionPool(Protocol):
    """What a unit of work needs of asyncpg.Pool (and of a LanePool over it)."""

    def acquire(self) -> Awaitable[asyncpg.Connection]: ...

    async def release(self, connection: asyncpg.Connection) -> None: ...


class LanePool:
    """A pool as one lane sees it: each acquire first passes the lane's gates (semaphores, taken in a fixed
    order, so two lanes never wait on each other crosswise), then the pool; release frees them in reverse."""

    def __init__(self, pool: ConnectionPool, gates: tuple[asyncio.Semaphore, ...] = ()) -> None:
        self.pool = pool
        self._gates = gates

    async def acquire(self) -> asyncpg.Connection:
        passed: list[asyncio.Semaphore] = []
        try:
            for gate in self._gates:
                await gate.acquire()
                passed.append(gate)
            return await self.pool.acquire()
        except BaseException:
            for gate in reversed(passed):
                gate.release()
            raise

    async def release(self, connection: asyncpg.Connection) -> None:
        try:
            await self.pool.release(connection)
        finally:
            for gate in reversed(self._gates):
                gate.release()


def underlying(pool: ConnectionPool) -> ConnectionPool:
    """The pool itself: units of work of different lanes on one pool share a batch's transaction."""
    return pool.pool if isinstance(pool, LanePool) else pool


@dataclass(frozen=True)
class LaneLimits:
    size: int
    reserved_for_urgent: int
    bulk: int

    def __post_init__(self) -> None:
        if not 1 <= self.reserved_for_urgent < self.size:
            raise ValueError(f"reserve between 1 and {self.size - 1} of {self.size} connections for the urgent lane")
        if self.bulk < 1:
            raise ValueError("the bulk lane needs at least one connection")

    @property
    def lower(self) -> int:
        """Connections routine and bulk work may hold between them."""
        return self.size - self.reserved_for_urgent

    def connections(self, lane: str) -> int:
        """The most connections the work of `lane` may hold at once."""
        return {names.URGENT: self.size, names.ROUTINE: self.lower, names.BULK: min(self.bulk, self.lower)}[lane]


def lane_pools(pool: ConnectionPool, limits: LaneLimits) -> dict[str | None, LanePool]:
    """One view of `pool` per lane (None: work of no lane, such as an officer's submission, which is never held
    back). The urgent lane takes any free connection; routine and bulk pass the gates of `limits`."""
    lower = asyncio.Semaphore(limits.connections(names.ROUTINE))
    bulk = asyncio.Semaphore(limits.connections(names.BULK))
    return {
        None: LanePool(pool),
        names.URGENT: LanePool(pool),
        names.ROUTINE: LanePool(pool, (lower,)),
        names.BULK: LanePool(pool, (bulk, lower)),
    }
