"""The relay's side of the outbox: take unsent rows with SKIP LOCKED, delete them after the confirm."""

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson

from shared.db.lanes import ConnectionPool
from shared.db.uow import insert_outbox_rows
from shared.messaging import names
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.ports import OutboxBatch
from shared.messaging.relay import ALL_PRIORITIES, Rows

# Each condition matches one partial index (migration 0005).
_ONLY = {Rows.ALL: "", Rows.LINGERING: "AND lingers", Rows.PROMPT: "AND NOT lingers"}
_TAKE = {rows: f"""
SELECT id, message_id, exchange, routing_key, type, correlation_id, priority, headers, body
FROM outbox
WHERE sent_at IS NULL AND next_attempt_at <= now() AND priority BETWEEN $2 AND $3 {only}
ORDER BY priority DESC, id
LIMIT $1
FOR UPDATE SKIP LOCKED
""" for rows, only in _ONLY.items()}
_UNSENT = " UNION ALL ".join(
    f"(SELECT priority, count(*) AS unsent FROM outbox WHERE sent_at IS NULL {_ONLY[rows]} GROUP BY priority)"
    for rows in (Rows.LINGERING, Rows.PROMPT))


class AsyncpgOutboxStore:
    def __init__(self, pool: asyncpg.Pool, *, lower_lanes: ConnectionPool | None = None) -> None:
        """A round of rows below the urgent lane's priority takes its connection from `lower_lanes` (the pool as
        routine work sees it, shared/db/lanes.py), so it never holds one kept for alerts."""
        self._pool = pool
        self._lower_lanes: ConnectionPool = lower_lanes or pool

    @asynccontextmanager
    async def take(
        self, limit: int, *, priorities: tuple[int, int] = ALL_PRIORITIES, rows: Rows = Rows.ALL
    ) -> AsyncIterator[OutboxBatch]:
        urgent = priorities[1] >= names.LANE_PRIORITY[names.URGENT] and rows is not Rows.LINGERING
        pool = self._pool if urgent else self._lower_lanes
        connection = await pool.acquire()
        try:
            async with connection.transaction():
                taken = await connection.fetch(_TAKE[rows], limit, *priorities)
                batch = OutboxBatch([(row["id"], _to_message(row)) for row in taken])
                yield batch
                if batch.sent:
                    await connection.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", batch.sent)
                if batch.follow_ups:
                    await insert_outbox_rows(connection, batch.follow_ups)
                for row_id, error in batch.failed.items():
                    await connection.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
                        "next_attempt_at = now() + make_interval(secs => least(power(2, attempts), 60)) WHERE id = $1",
                        row_id,
                        error[:2000],
                    )
        finally:
            await pool.release(connection)

    async def unsent_by_priority(self) -> dict[int, int]:
        unsent: Counter[int] = Counter()
        for row in await self._pool.fetch(_UNSENT):
            unsent[row["priority"]] += row["unsent"]
        return dict(unsent)

    async def reclaim_sent(self) -> None:
        """Measured with autovacuum off (as on the benchmark's server): 215,000 dead row versions after a
        100,000-record import, and a take walked 77,000 index entries for its 200 rows, 61-106 ms a round.
        SKIP_LOCKED: another process on this database may be reclaiming right now; ANALYZE keeps the take's
        plan on the index as the backlog grows; of the columns that plan depends on only (migration 0006): every
        column's statistics read every sampled body, 640 ms a reclaim on the hub at the maximum load."""
        await self._pool.execute("VACUUM (ANALYZE, SKIP_LOCKED) outbox (sent_at, next_attempt_at, priority, lingers)")

    async def forget_sent(self, *, per_statement: int = 10_000) -> int:
        """Rows an earlier release marked sent instead of deleting them (it kept them a day): the ones left at an
        upgrade, and those a process not yet upgraded marks on a shared database. Short statements, so none holds
        a long transaction on the outbox."""
        forgotten = 0
        while True:
            status = await self._pool.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL LIMIT $1)",
                per_statement)
            deleted = int(status.split()[-1])
            forgotten += deleted
            if deleted < per_statement:
                return forgotten


def _to_message(row: asyncpg.Record) -> OutgoingMessage:
    headers = row["headers"]
    return OutgoingMessage(
        exchange=row["exchange"],
        routing_key=row["routing_key"],
        body=bytes(row["body"]),
        type=row["type"],
        message_id=row["message_id"],
        correlation_id=row["correlation_id"],
        priority=row["priority"],
        headers=orjson.loads(headers) if isinstance(headers, str) else dict(headers),
    )
