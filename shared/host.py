"""What every service process does around its handlers: connect, migrate, declare, relay, stop cleanly.

Called only from each service's bootstrap.
"""

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import asyncpg
import structlog

from shared.db.connect import DatabaseTls, create_pool, ensure_database
from shared.db.lanes import LanePool, lane_pools
from shared.db.migrate import migrate
from shared.db.outbox_store import AsyncpgOutboxStore
from shared.db.uow import AsyncpgUnitOfWork, SharedTransaction
from shared.federation import Federation, FederationFile
from shared.logging import configure_logging
from shared.memory import freeze_long_lived_objects, give_back_freed_memory_when_idle
from shared.messaging import names
from shared.messaging.amqp import apply_topology
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.relay import OutboxRelay
from shared.messaging.runtime import Live, QuarantineTarget, Subscription, start_consumers
from shared.messaging.session import BrokerSession
from shared.messaging.topology import federation_topology
from shared.security.broker_credentials import declares_topology, service_amqp_url
from shared.security.keys import load_signer
from shared.security.origin import MessageVerifier
from shared.settings import ServiceSettings

log = structlog.get_logger("host")
StoreT = TypeVar("StoreT")


@dataclass
class Infrastructure:
    service: str
    settings: ServiceSettings
    federation_file: FederationFile
    pool: asyncpg.Pool
    broker: BrokerSession
    relays: list[OutboxRelay] = field(default_factory=list)
    lanes: dict[str | None, LanePool] = field(init=False)

    def __post_init__(self) -> None:
        self.lanes = lane_pools(self.pool, self.settings.lane_limits)

    @property
    def federation(self) -> Federation:
        return self.federation_file.current()

    @property
    def live_federation(self) -> Live:
        return Live(self.federation_file.current)

    @property
    def publisher(self) -> BrokerSession:
        return self.broker

    def unit_of_work_factory(
        self, store_factory: Callable[[asyncpg.Connection], StoreT], *, lane: str | None = None,
        connections_of: str | None = None,
    ) -> Callable[[], AsyncpgUnitOfWork[StoreT]]:
        """Units of work for the handlers of `lane`: they draw on the connections the lane may take (or those of
        `connections_of`), and their outbox rows are relayed with the lane's priority."""
        priority = names.LANE_PRIORITY.get(lane or "", 0)
        pool = self.lanes[connections_of or lane]
        return lambda: AsyncpgUnitOfWork(pool, store_factory, wake_relay=self.wake_relays, priority=priority)

    def relay(self, after_sent: Callable[[OutgoingMessage], list[OutgoingMessage]] = lambda _: []) -> OutboxRelay:
        relay = OutboxRelay(
            AsyncpgOutboxStore(self.pool, lower_lanes=self.lanes[names.ROUTINE]),
            self.publisher,
            batch_size=self.settings.relay_batch,
            lower_batch_size=self.settings.relay_lower_batch,
            poll_seconds=self.settings.relay_poll_seconds,
            linger_seconds=self.settings.relay_linger_seconds,
            after_sent=after_sent,
            max_batch_items=self.settings.relay_batch_items,
        )
        self.relays.append(relay)
        return relay

    def wake_relays(self, committed: set[tuple[int, str]]) -> None:
        """Outbox rows of these (priority, type) were committed in this process: publish them now (or, if they may
        linger, after the linger), not at the next poll."""
        for relay in self.relays:
            relay.wake(committed)

    def message_verifier(self) -> MessageVerifier:
        """Signature, signer, user_id and freshness of every delivery, against the live federation and keyring."""
        return MessageVerifier(self.federation_file.current, own_user=self.broker.user,
                               max_age=timedelta(seconds=self.settings.signature_max_age_seconds),
                               refresh=self.federation_file.refresh)

    async def start_consumers(
        self, subscriptions: list[Subscription] | Callable[[Federation], list[Subscription]], audit_exchange: str,
        *, claimed_in_batch: Callable[[list[str | None]], list[list[str | None]]] | None = None,
    ) -> None:
        """Consumes now and again after every reconnection; a callable is asked for the current federation's queues.
        `claimed_in_batch` gives, for the ids a batch's items travel under, every id its handlers claim, in one group
        for each consumer: a consumer reads its group once, all are written at the commit (shared/db/uow.py
        BatchClaims), and any other id is claimed one by one. None: the handlers claim the items' ids only."""
        target = QuarantineTarget(self.settings.platform, self.service, audit_exchange)
        verifier = self.message_verifier()
        # a batch for each connection the lane may hold, and one more each that parses meanwhile: with one each,
        # the maximum fell by about 3 %
        batches_at_once = {lane: 2 * self.settings.lane_limits.connections(lane) for lane in names.LANES}

        async def consume(_: object) -> None:
            wanted = subscriptions(self.federation) if callable(subscriptions) else subscriptions
            await start_consumers(self.broker, self.broker, wanted, target, prefetch=self.settings.prefetch,
                                  verifier=verifier, lane_prefetch={names.ROUTINE: self.settings.routine_prefetch,
                                                                    names.BULK: self.settings.bulk_prefetch},
                                  transaction=lambda lane, ids: SharedTransaction(
                                      self.lanes[lane], *(claimed_in_batch(ids) if claimed_in_batch else [ids])),
                                  batches_at_once=batches_at_once)

        await self.broker.when_connected(consume)


async def prepare_database(settings: ServiceSettings) -> list[str]:
    server_url = settings.database_url.get_secret_value()
    tls = DatabaseTls.from_settings(settings)
    await ensure_database(server_url, settings.database_name, tls=tls)
    pool = await create_pool(server_url, settings.database_name, min_size=1, max_size=1, tls=tls)
    try:
        async with pool.acquire() as connection:
            return await migrate(connection)
    finally:
        await pool.close()


@asynccontextmanager
async def infrastructure(service: str, settings: ServiceSettings) -> AsyncIterator[Infrastructure]:
    configure_logging(service=service, platform=settings.platform, fmt=settings.log_format, level=settings.log_level)
    federation_file = FederationFile(settings.federation_file)
    federation_file.current().get(settings.platform)
    signer = load_signer(settings.secrets_dir, settings.platform, federation_file.current())  # no key: no start
    applied = await prepare_database(settings)
    if applied:
        log.info("migrations_applied", migrations=applied, database=settings.database_name)
    pool = await create_pool(settings.database_url.get_secret_value(), settings.database_name,
                             max_size=settings.database_pool_size, tls=DatabaseTls.from_settings(settings))
    amqp_url, broker_user = service_amqp_url(service, settings, federation_file.current())
    broker = BrokerSession(amqp_url.get_secret_value(), name=f"{service}@{settings.platform}", signer=signer,
                           connect_timeout=settings.amqp_connect_timeout_seconds)
    declares = declares_topology(service, settings, federation_file.current())
    log.info("broker_identity", user=broker_user or "from PCMS_AMQP_URL", declares_topology=declares)
    if declares:
        await broker.when_connected(
            lambda connection: apply_topology(connection, federation_topology(federation_file.current())))
    supervisor = asyncio.create_task(broker.run(), name="broker-session")
    watcher = asyncio.create_task(_follow_membership(federation_file, broker), name="federation-watch")
    try:
        await broker.connected.wait()
        yield Infrastructure(service, settings, federation_file, pool, broker)
    finally:
        for task in (supervisor, watcher):
            task.cancel()
        await asyncio.gather(supervisor, watcher, return_exceptions=True)
        await pool.close()


async def _follow_membership(federation_file: FederationFile, broker: BrokerSession, every_seconds: float = 2.0) -> None:
    """A membership change reshapes topology and consumers: rebuild the broker session from the new federation.

    A keyring change (rotation) needs no rebuild: consumers verify against the live federation.
    """
    seen = federation_file.current()
    while True:
        await asyncio.sleep(every_seconds)
        try:
            federation_file.refresh()  # the verifier may refresh too (an unknown key id): compare, don't trust the flag
            now = federation_file.current()
            if now is seen:
                continue
            if (now.platforms, now.broker_user_prefix) != (seen.platforms, seen.broker_user_prefix):
                statuses = {p.code: p.status.value for p in now.platforms}
                log.warning("federation_changed", statuses=statuses)
                broker.rebuild()
            if now.keys != seen.keys:
                log.warning("keyring_changed", keys={k.id: k.status.value for k in now.keys})
            seen = now
        except Exception as error:
            log.error("federation_unreadable", error=f"{type(error).__name__}: {error}", path=str(federation_file.path))


async def run_until_stopped(*workers: Awaitable[None]) -> None:
    """Runs the workers until SIGINT/SIGTERM or until one of them fails. What start-up built is frozen first; what
    a stretch of work frees is given back once the process is quiet (shared.memory)."""
    frozen = freeze_long_lived_objects()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(worker) for worker in (*workers, give_back_freed_memory_when_idle())]
    stopper = asyncio.ensure_future(stop.wait())
    log.info("service_started", objects_frozen=frozen)
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        log.info("service_stopped")
