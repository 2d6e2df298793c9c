import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

import asyncpg
import structlog
from pydantic import BaseModel

from shared.contracts.identity import derived_id
from shared.contracts.registry import MESSAGE
from shared.federation import Federation
from shared.db.lanes import ConnectionPool
from shared.db.uow import one_transaction
from shared.host import Infrastructure, infrastructure, run_until_stopped
from shared.http import answer_unavailable_on, serve
from shared.memory import freeze_long_lived_objects
from shared.messaging import names
from shared.messaging.ports import Outcome
from shared.messaging.runtime import Handler, Subscription, bind
from shared.policy import RoutingPolicy, load_policy
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.http_auth import ApiAuth
from shared.security.ratelimit import RateLimiter
from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.api import build_api
from services.enrichment.catch_up import CatchUpRounds, keep_caught_up
from services.enrichment.domain.regional import MATCHABLE_TYPES, RegionalMatcher
from services.enrichment.handlers import when_message_published_enrich_it
from services.enrichment.ports import RegionalIndex
from services.enrichment.settings import EnrichmentSettings
from services.routing.adapters import AsyncpgRoutingStore
from services.routing.handlers import when_message_enriched_route_it

SERVICE = "enrichment"
STORAGE_OUTAGES = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError)
log = structlog.get_logger(SERVICE)


@dataclass(frozen=True)
class Rebuilt:
    records: int
    newest: int  # the place in the store's insertion order the matcher holds everything up to


async def rebuild(matcher: RegionalMatcher, index: RegionalIndex, *, batch_size: int) -> Rebuilt:
    """Loads every stored matchable entity into the in-memory matcher, a batch at a time, then marks it ready."""
    started = time.perf_counter()
    loaded = newest = 0
    async for batch in index.stream(batch_size=batch_size, entity_types=sorted(MATCHABLE_TYPES)):
        loaded += matcher.load(batch)
        newest = max(newest, batch[-1].seq)
        await asyncio.sleep(0)  # let the API answer /healthz while a large index loads
    matcher.finish_loading()
    log.info("regional_index_loaded", records=loaded, messages=matcher.messages,
             seconds=round(time.perf_counter() - started, 2))
    return Rebuilt(loaded, newest)


def router(infra: Infrastructure, policy: RoutingPolicy, lane: str) -> Handler:
    """The routing service's handler, for the enrichment to run on what it has just enriched
    (settings.routes_in_process): one hop fewer for every message through the hub. Against publishing the enriched
    message for the routing service, at 50 alerts/s: 2.5-5 ms less CPU an alert in all processes and a fan-out p99
    about 40 % lower; at the maximum, about 8 % fewer alerts a second (docs/benchmarks.md, "5 Dec, night")."""
    return bind(when_message_enriched_route_it, new_uow=infra.unit_of_work_factory(AsyncpgRoutingStore, lane=lane),
                federation=infra.live_federation, policy=policy, clock=partial(datetime.now, UTC), lane=lane)


def in_one_transaction(handler: Handler, pool: ConnectionPool) -> Handler:
    """The units of work the handling of a message enters on `pool` commit together: the enrichment's and the
    routing's."""
    async def handle(model: BaseModel) -> Outcome | None:
        async with one_transaction(pool):
            return await handler(model)

    return handle


def with_enriched_ids(item_ids: list[str | None]) -> list[list[str | None]]:
    """The ids a batch's messages travel under, which the enrichment claims, and those of their enriched forms,
    which routing in process claims."""
    enriched: list[str | None] = []
    for item_id in item_ids:
        try:
            enriched.append(str(derived_id(UUID(str(item_id)), "enriched")))
        except ValueError:
            continue
    return [item_ids, enriched]


async def main(settings: EnrichmentSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        hub = infra.federation.get(settings.platform)
        new_uow = {lane: infra.unit_of_work_factory(AsyncpgRegionalIndex, lane=lane) for lane in names.LANES}
        matcher = RegionalMatcher()
        catching_up = CatchUpRounds()

        routers = ({lane: router(infra, load_policy(settings.policy_file), lane) for lane in names.LANES}
                   if settings.routes_in_process else {})

        def enrich(platform: str, lane: str) -> Handler:
            route = routers.get(lane)
            handler = bind(
                when_message_published_enrich_it, new_uow=new_uow[lane], matcher=matcher, ingress_platform=platform,
                federation=infra.live_federation, clock=partial(datetime.now, UTC), lane=lane,
                hits_per_entity=settings.hits_per_entity, max_hits=settings.max_hits, route=route,
            )
            return in_one_transaction(handler, infra.lanes[lane]) if route else handler

        def subscriptions(federation: Federation) -> list[Subscription]:
            # Only active members' traffic is taken in: a suspended member's stays queued (held) at the hub.
            return [
                Subscription(names.hub_ingress_queue(p.code, lane), {MESSAGE: enrich(p.code, lane)})
                for p in federation.active_platforms
                for lane in names.LANES
            ]

        async def index_then_consume() -> None:
            # Consumers start only once the index holds everything committed before: no message is
            # matched against a partial index, and none is added twice (see RegionalMatcher).
            store = AsyncpgRegionalIndex(infra.pool)
            rebuilt = await rebuild(matcher, store, batch_size=settings.rebuild_batch)
            log.info("matcher_frozen", objects_frozen=freeze_long_lived_objects())
            await infra.start_consumers(subscriptions, names.AUDIT,
                                        claimed_in_batch=with_enriched_ids if settings.routes_in_process else None)
            await keep_caught_up(matcher, store, since=rebuilt.newest, every_seconds=settings.catch_up_seconds,
                                 rounds=catching_up)

        api = build_api(
            matcher=matcher,
            catch_up=catching_up.view,
            health=lambda: {"broker": infra.broker.is_connected, "database": not infra.pool.is_closing()},
            max_body_bytes=settings.max_body_bytes,
            auth=ApiAuth(tokens=AsyncpgTokenStore(infra.pool), events=AsyncpgSecurityEventLog(infra.pool),
                         limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
                         cache_seconds=settings.api_token_cache_seconds, hub=hub.code),
            platform=hub.code,
        )
        answer_unavailable_on(api, STORAGE_OUTAGES)
        port = settings.api_port or hub.api_port + settings.api_port_offset
        await run_until_stopped(index_then_consume(), infra.relay().run(), serve(api, host=settings.api_host, port=port))
