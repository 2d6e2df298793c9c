"""The single writer of a platform's audit log.

Every HopRecorded the service receives (and every read its API serves) goes through one asyncio
task, which batches what is waiting, appends it in one transaction (seq taken from the locked
counter row, so the log stays gap-free even if a tool appends too), and only then resolves the
callers: the consumer runtime acks a message after its handler returned, so a message is acked
only once its entry is committed. Under load each delivery holds the hops of a relay round
(HopsRecorded), so a modest prefetch keeps the batches full.

The task keeps the Merkle tree of the log in memory and signs a checkpoint (size, root, time) when
`checkpoint_every` entries have been appended since the last one, or `checkpoint_seconds` after
an entry was appended, in the same transaction as the batch that completes it. At the hub, a
second task publishes every checkpoint not yet published to pcms.audit.checkpoints, with the
consistency proof from the previous checkpoint and the new leaf hashes, and records that it did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

import asyncpg
import structlog

from shared.contracts.events import CheckpointPublished, HopRecorded
from shared.contracts.registry import CHECKPOINT_PUBLISHED
from shared.messaging import names
from shared.messaging.outgoing import OutgoingMessage
from services.audit import adapters
from services.audit.domain.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from services.audit.domain.merkle import RECENT_LEAVES, MerkleTree, PrunedHashes
from services.audit.keys import Signer

log = structlog.get_logger("audit.appender")

Publish = Callable[[OutgoingMessage], Awaitable[None]]


@dataclass
class _Request:
    event: HopRecorded | None  # None: a checkpoint request
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AuditAppender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        signer: Signer,
        *,
        batch_max: int = 500,
        linger_seconds: float = 0.002,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 5.0,
        publish: Publish | None = None,
        checkpoint_max_leaves: int = 10_000,
        platform: str = "HUB",
        keep_recent_leaves: int = RECENT_LEAVES,
    ) -> None:
        """The tree keeps its lowest levels for its last `keep_recent_leaves` leaves only: a checkpoint, its
        leaves and its proofs come from memory; one older than that (published late) is rebuilt from storage."""
        self._pool = pool
        self._signer = signer
        self._batch_max = batch_max
        self._linger = linger_seconds
        self._every = checkpoint_every
        self._seconds = checkpoint_seconds
        self._publish = publish
        self._max_leaves = checkpoint_max_leaves
        self._platform = platform
        self._keep_recent = keep_recent_leaves
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._tree = MerkleTree()
        self._latest: Checkpoint | None = None
        self._first_unsigned_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._publisher_task: asyncio.Task[None] | None = None
        self._publish_wakeup = asyncio.Event()
        self.batches = 0
        self.intact_at_start: bool | None = None

    @property
    def size(self) -> int:
        return self._tree.size

    @property
    def latest_checkpoint(self) -> Checkpoint | None:
        return self._latest

    @property
    def tree(self) -> MerkleTree:
        return self._tree

    async def start(self) -> None:
        await self._load()
        await self._drain_legacy()
        self._task = asyncio.create_task(self._run(), name="audit-appender")
        if self._publish is not None:
            self._publisher_task = asyncio.create_task(self._publish_loop(), name="audit-checkpoint-publisher")
            self._publish_wakeup.set()

    async def stop(self) -> None:
        for task in (self._task, self._publisher_task):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._publisher_task) if t), return_exceptions=True)

    async def run(self) -> None:
        """For run_until_stopped: fails when the writer task fails."""
        assert self._task is not None
        tasks = [t for t in (self._task, self._publisher_task) if t]
        await asyncio.gather(*tasks)

    async def append(self, event: HopRecorded) -> bool:
        """Returns once the entry is committed: True if appended, False if the event was already recorded."""
        request = _Request(event)
        self._queue.put_nowait(request)
        return await request.done

    async def checkpoint_now(self) -> Checkpoint | None:
        """Signs a checkpoint of everything appended so far (if anything is new); for tests and tools."""
        request = _Request(None)
        self._queue.put_nowait(request)
        await request.done
        return self._latest

    async def _load(self) -> None:
        async with self._pool.acquire() as connection:
            self._tree = MerkleTree(await adapters.leaf_hashes(connection))
            stored = await adapters.checkpoints(connection, self._signer.log_id)
        self._latest = stored[-1] if stored else None
        if self._tree.size and (self._latest is None or self._latest.size < self._tree.size):
            self._first_unsigned_at = time.monotonic()
        self.intact_at_start = self._matches_checkpoints(stored)
        self._tree.keep_recent_only(self._keep_recent)

    def _matches_checkpoints(self, stored: list[Checkpoint]) -> bool:
        """A quick self-check at start: stored leaf hashes against the signed roots (full check: pcms audit verify)."""
        keys = {self._signer.key_id: self._signer.public_key}
        for checkpoint in stored[-3:]:
            if checkpoint.size > self._tree.size:
                log.error("audit_log_shorter_than_checkpoint", size=self._tree.size, checkpoint_size=checkpoint.size)
                return False
            if not verify_checkpoint(checkpoint, keys) or self._tree.root_at(checkpoint.size) != checkpoint.root:
                log.error("audit_log_does_not_match_checkpoint", checkpoint_size=checkpoint.size,
                          hint="run `pcms audit verify`; witnesses will refuse the next checkpoint")
                return False
        return True

    async def _drain_legacy(self) -> None:
        """Re-appends entries written before the tamper-evident log existed, in their order."""
        moved = 0
        while True:
            async with self._pool.acquire() as connection, connection.transaction():
                rows = await adapters.legacy_rows(connection, 5000)
                if not rows:
                    break
                result = await adapters.append_events(connection, [adapters.legacy_event(row) for row in rows])
                await adapters.forget_legacy(connection, [row["seq"] for row in rows])
            await self._catch_up(result.start)
            self._tree.extend(result.leaves)
            moved += len(result.leaves)
        if moved:
            self._first_unsigned_at = time.monotonic()
            log.info("audit_legacy_entries_moved", entries=moved)

    async def _catch_up(self, start: int, connection: asyncpg.Connection | None = None) -> None:
        """Someone else appended (a tool, another process): take their leaves first."""
        source = connection if connection is not None else self._pool
        if start > self._tree.size:
            self._tree.extend(await adapters.leaf_hashes(source, self._tree.size, start))
        elif start < self._tree.size:  # the tree ran ahead of a transaction that did not commit: rebuild it
            self._tree = MerkleTree(await adapters.leaf_hashes(source, 0, start))
            self._tree.keep_recent_only(self._keep_recent)

    def _checkpoint_due(self) -> bool:
        signed = self._latest.size if self._latest else 0
        if self._tree.size <= signed:
            return False
        if self._tree.size - signed >= self._every:
            return True
        return self._first_unsigned_at is not None and time.monotonic() - self._first_unsigned_at >= self._seconds

    def _wait_timeout(self) -> float | None:
        if self._first_unsigned_at is None:
            return None
        return max(0.0, self._seconds - (time.monotonic() - self._first_unsigned_at))

    async def _run(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), self._wait_timeout())
            except TimeoutError:
                first = None
            batch = [first] if first else []
            self._take_waiting(batch)
            if self._linger and 0 < len(batch) < self._batch_max:
                await asyncio.sleep(self._linger)
                self._take_waiting(batch)
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("audit_append_failed", entries=len(batch))
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(error)
                await self._reload_after_failure()

    def _take_waiting(self, batch: list[_Request]) -> None:
        while len(batch) < self._batch_max:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _reload_after_failure(self) -> None:
        try:
            await self._load()
        except Exception:
            log.exception("audit_reload_failed")
            await asyncio.sleep(1)

    async def _commit(self, batch: list[_Request]) -> None:
        events = [request.event for request in batch if request.event is not None]
        forced = any(request.event is None for request in batch)
        checkpoint: Checkpoint | None = None
        async with self._pool.acquire() as connection, connection.transaction():
            result = await adapters.append_events(connection, events, reset_role=False) if events else None
            if result is not None:
                await self._catch_up(result.start, connection)
                self._tree.extend(result.leaves)
                if result.leaves and self._first_unsigned_at is None:
                    self._first_unsigned_at = time.monotonic()
            else:
                await self._catch_up(await adapters.next_seq(connection), connection)
            signed = self._latest.size if self._latest else 0
            if (forced and self._tree.size > signed) or self._checkpoint_due():
                checkpoint = self._sign()
                await adapters.insert_checkpoint(connection, checkpoint)
        self.batches += 1
        if checkpoint is not None:
            self._latest = checkpoint
            self._first_unsigned_at = None
            self._publish_wakeup.set()
            log.info("audit_checkpoint_signed", size=checkpoint.size, root=checkpoint.root.hex())
        seqs = iter(result.seqs) if result else iter(())
        for request in batch:
            if not request.done.done():
                request.done.set_result(True if request.event is None else next(seqs) is not None)

    def _sign(self) -> Checkpoint:
        signer = self._signer
        at = datetime.now(UTC)
        return sign_checkpoint(signer.log_id, self._tree.size, self._tree.root(), at, signer.private_key, signer.key_id)

    # Publishing to the witnesses (hub only).

    async def _publish_loop(self) -> None:
        failures = 0
        while True:
            await self._publish_wakeup.wait()
            self._publish_wakeup.clear()
            try:
                await self._publish_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                log.warning("audit_checkpoint_publish_failed", error=f"{type(error).__name__}: {error}",
                            attempt=failures)
                await asyncio.sleep(min(0.2 * 2**failures, 10))
                self._publish_wakeup.set()

    async def _publish_pending(self) -> None:
        assert self._publish is not None
        async with self._pool.acquire() as connection:
            published = {row[0] for row in await connection.fetch(
                "SELECT size FROM audit_checkpoint_publications WHERE log_id = $1", self._signer.log_id)}
            stored = await adapters.checkpoints(connection, self._signer.log_id)
        previous = 0
        from_storage: MerkleTree | None = None  # read once a pass, for checkpoints whose hashes left memory
        for checkpoint in stored:
            if checkpoint.size not in published and checkpoint.size <= self._tree.size:
                try:
                    message = self.checkpoint_message(checkpoint, previous)
                except PrunedHashes:  # left unpublished that long: its leaves and proof come from storage
                    if from_storage is None or from_storage.size < checkpoint.size:
                        log.warning("audit_checkpoint_rebuilt_from_storage", size=checkpoint.size,
                                    previous_size=previous, held_from=self._tree.first_held)
                        async with self._pool.acquire() as connection:
                            from_storage = MerkleTree(await adapters.leaf_hashes(connection, 0, self._tree.size))
                    message = self.checkpoint_message(checkpoint, previous, from_storage)
                await self._publish(message)
                async with self._pool.acquire() as connection, connection.transaction():
                    await connection.execute(f"SET LOCAL ROLE {adapters.WRITER_ROLE}")
                    await connection.execute(
                        "INSERT INTO audit_checkpoint_publications (log_id, size) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING", self._signer.log_id, checkpoint.size)
                log.info("audit_checkpoint_published", size=checkpoint.size, previous_size=previous)
            previous = checkpoint.size

    def checkpoint_message(self, checkpoint: Checkpoint, previous_size: int,
                           tree: MerkleTree | None = None) -> OutgoingMessage:
        tree = self._tree if tree is None else tree
        count = checkpoint.size - previous_size
        leaves = [tree.leaf(i).hex() for i in range(previous_size, checkpoint.size)] if count <= self._max_leaves else []
        event = CheckpointPublished(
            log_id=checkpoint.log_id, platform=self._platform, size=checkpoint.size, root=checkpoint.root.hex(),
            at=checkpoint.at, key_id=checkpoint.key_id, signature=adapters.b64(checkpoint.signature),
            public_key=adapters.b64(self._signer.public_raw), previous_size=previous_size,
            consistency_proof=[node.hex() for node in tree.consistency_proof(previous_size, checkpoint.size)],
            leaf_hashes=leaves,
        )
        return OutgoingMessage(
            exchange=names.AUDIT_CHECKPOINTS, routing_key="", body=event.model_dump_json().encode(),
            type=CHECKPOINT_PUBLISHED,
            message_id=str(uuid5(NAMESPACE_URL, f"pcms:checkpoint:{checkpoint.log_id}:{checkpoint.size}")),
        )
