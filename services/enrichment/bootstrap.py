import asyncio
import time
from datetime import UTC, datetime
from functools import partial

import asyncpg
import structlog

from shared.contracts.registry import MESSAGE
from shared.federation import Federation
from shared.host import infrastructure, run_until_stopped
from shared.http import answer_unavailable_on, serve
from shared.memory import freeze_long_lived_objects
from shared.messaging import names
from shared.messaging.runtime import Subscription, bind, wait_forever
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.http_auth import ApiAuth
from shared.security.ratelimit import RateLimiter
from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.api import build_api
from services.enrichment.domain.regional import MATCHABLE_TYPES, RegionalMatcher
from services.enrichment.handlers import when_message_published_enrich_it
from services.enrichment.ports import RegionalIndex
from services.enrichment.settings import EnrichmentSettings

SERVICE = "enrichment"
STORAGE_OUTAGES = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError)
log = structlog.get_logger(SERVICE)


async def rebuild(matcher: RegionalMatcher, index: RegionalIndex, *, batch_size: int) -> int:
    """Loads every stored matchable entity into the in-memory matcher, a batch at a time, then marks it ready."""
    started = time.perf_counter()
    loaded = 0
    async for batch in index.stream(batch_size=batch_size, entity_types=sorted(MATCHABLE_TYPES)):
        loaded += matcher.load(batch)
        await asyncio.sleep(0)  # let the API answer /healthz while a large index loads
    matcher.finish_loading()
    log.info("regional_index_loaded", records=loaded, messages=matcher.messages,
             seconds=round(time.perf_counter() - started, 2))
    return loaded


async def main(settings: EnrichmentSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        hub = infra.federation.get(settings.platform)
        new_uow = {lane: infra.unit_of_work_factory(AsyncpgRegionalIndex, lane=lane) for lane in names.LANES}
        matcher = RegionalMatcher()

        def subscriptions(federation: Federation) -> list[Subscription]:
            # Only active members' traffic is taken in: a suspended member's stays queued (held) at the hub.
            return [
                Subscription(names.hub_ingress_queue(p.code, lane), {MESSAGE: bind(
                    when_message_published_enrich_it, new_uow=new_uow[lane], matcher=matcher, ingress_platform=p.code,
                    federation=infra.live_federation, clock=partial(datetime.now, UTC), lane=lane,
                    hits_per_entity=settings.hits_per_entity, max_hits=settings.max_hits,
                )})
                for p in federation.active_platforms
                for lane in names.LANES
            ]

        async def index_then_consume() -> None:
            # Consumers start only once the index holds everything committed before: no message is
            # matched against a partial index, and none is added twice (see RegionalMatcher).
            await rebuild(matcher, AsyncpgRegionalIndex(infra.pool), batch_size=settings.rebuild_batch)
            log.info("matcher_frozen", objects_frozen=freeze_long_lived_objects())
            await infra.start_consumers(subscriptions, names.AUDIT)
            await wait_forever()

        api = build_api(
            matcher=matcher,
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
