import asyncio
from datetime import UTC, datetime

import asyncpg
import structlog
from functools import partial
from uuid import uuid4

from shared.contracts.registry import MATCH_FOUND, MESSAGE_DISPATCHED, ROUTING_DECIDED
from shared.host import infrastructure, run_until_stopped
from shared.http import answer_unavailable_on, serve
from shared.messaging import names
from shared.messaging.runtime import Subscription, bind
from shared.policy import load_policy
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.http_auth import ApiAuth
from shared.security.ratelimit import RateLimiter
from services.intake import handlers
from services.intake.adapters import AsyncpgIntakeQueries, AsyncpgIntakeStore
from services.intake.api import build_api
from services.intake.settings import IntakeSettings

SERVICE = "intake"
log = structlog.get_logger("intake")
LEFTOVER_RECEIPTS_SECONDS = 30
STORAGE_OUTAGES = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError)


async def main(settings: IntakeSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        platform = infra.federation.get(settings.platform)
        new_uow = infra.unit_of_work_factory(AsyncpgIntakeStore)
        lane_uow = {lane: infra.unit_of_work_factory(AsyncpgIntakeStore, lane=lane) for lane in names.LANES}
        clock = partial(datetime.now, UTC)
        rfi_rule = load_policy(settings.policy_file).rfi
        deps = {"clock": clock, "new_id": uuid4, "rfi_rule": rfi_rule}
        windowed = settings.receipts_per_batch and settings.receipt_window_seconds > 0
        per_batch = settings.receipts_per_batch and not windowed

        await infra.start_consumers(
            [Subscription(names.inbox_queue(platform.code, lane), {
                MESSAGE_DISPATCHED: bind(handlers.when_message_dispatched_take_it_in, new_uow=lane_uow[lane],
                                         platform=platform.code, lane=lane, **deps,
                                         receipt_uow=lane_uow[lane] if per_batch else None, queue_receipts=windowed),
                ROUTING_DECIDED: bind(handlers.when_routing_decided_record_it, new_uow=lane_uow[lane]),
                MATCH_FOUND: bind(handlers.when_match_found_record_it, new_uow=lane_uow[lane]),
            }) for lane in names.LANES],
            names.platform_exchange(platform.code),
        )
        relay = infra.relay(after_sent=handlers.published_hop(platform.code, clock))
        api = build_api(
            platform=platform.code,
            new_uow=new_uow,
            # an officer's import request waits for routine work's connections, not behind the bulk lane's batches
            import_uow=infra.unit_of_work_factory(AsyncpgIntakeStore, lane=names.BULK, connections_of=names.ROUTINE),
            queries=AsyncpgIntakeQueries(infra.pool),
            message_deps=deps,
            health=lambda: {"broker": infra.broker.is_connected, "database": not infra.pool.is_closing()},
            max_body_bytes=settings.max_body_bytes,
            auth=ApiAuth(tokens=AsyncpgTokenStore(infra.pool), events=AsyncpgSecurityEventLog(infra.pool),
                         limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
                         cache_seconds=settings.api_token_cache_seconds, hub=infra.federation.hub.code),
            refusal=lambda lane: (f"{waiting} messages wait to be published"
                                  if (waiting := relay.backlog_for(lane)) > settings.max_outbox_backlog else None),
        )
        answer_unavailable_on(api, STORAGE_OUTAGES)
        await run_until_stopped(
            relay.run(), serve(api, host=settings.api_host, port=settings.api_port or platform.api_port),
            watch_requests(new_uow, clock=clock, rfi_rule=rfi_rule, every_seconds=settings.rfi_watch_seconds),
            # also when receipts are no longer queued: those queued before the change still go out
            send_receipts(lane_uow, platform=platform.code, clock=clock, round_size=settings.receipt_round,
                          every_seconds=settings.receipt_window_seconds if windowed else LEFTOVER_RECEIPTS_SECONDS),
        )


async def send_receipts(lane_uow, *, platform: str, clock, every_seconds: float, round_size: int) -> None:  # noqa: ANN001
    """Every `every_seconds`, the receipts queued since (also those a stopped process left): a full round is
    followed by another at once."""
    while True:
        for lane in names.RECEIPT_LANES:
            try:
                confirmed = round_size
                while confirmed == round_size:
                    confirmed = await handlers.send_queued_receipts(uow=lane_uow[lane](), lane=lane, platform=platform,
                                                                    clock=clock, new_id=uuid4, limit=round_size)
                    if confirmed:
                        log.info("receipts_sent", lane=lane, messages=confirmed)
            except Exception as error:  # the database is away: the receipts stay queued for the next round
                log.warning("receipts_round_failed", lane=lane, error=f"{type(error).__name__}: {error}")
        await asyncio.sleep(every_seconds)


async def watch_requests(new_uow, *, clock, rfi_rule, every_seconds: float) -> None:  # noqa: ANN001
    """Reminders before RFI deadlines and overdue notices after them."""
    while True:
        try:
            await handlers.remind_and_flag_overdue(uow=new_uow(), clock=clock, rfi_rule=rfi_rule)
        except Exception as error:  # the database is away: try again next round
            log.warning("rfi_watch_failed", error=f"{type(error).__name__}: {error}")
        await asyncio.sleep(every_seconds)
