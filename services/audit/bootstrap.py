from shared.contracts.registry import CHECKPOINT_PUBLISHED, HOP_RECORDED, HOPS_RECORDED
from shared.host import infrastructure, run_until_stopped
from shared.http import serve
from shared.messaging import names
from shared.messaging.runtime import Subscription
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.http_auth import ApiAuth
from shared.security.ratelimit import RateLimiter
from services.audit.adapters import AsyncpgAuditQueries
from services.audit.api import build_api
from services.audit.appender import AuditAppender
from services.audit.handlers import (
    when_checkpoint_published_witness_it,
    when_hop_recorded_append_it_in_a_batch,
    when_hops_recorded_append_each,
)
from services.audit.keys import load_signing_key, load_trusted_keys, log_id_for, signer_from_key
from services.audit.settings import AuditSettings
from services.audit.witnessing import CheckpointWitness

SERVICE = "audit"


async def main(settings: AuditSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        federation = infra.federation
        platform = federation.get(settings.platform)
        is_hub = platform.role == "hub"
        signer = signer_from_key(
            log_id_for(platform.code),
            load_signing_key(platform.code, settings.audit_signing_key_file, settings.audit_key_dir),
        )
        publishes = is_hub and bool(federation.active_members)
        appender = AuditAppender(
            infra.pool, signer,
            batch_max=settings.audit_batch_max,
            linger_seconds=settings.audit_batch_linger_ms / 1000,
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_seconds=settings.audit_checkpoint_seconds,
            checkpoint_max_leaves=settings.audit_checkpoint_max_leaves,
            publish=infra.publisher.publish if publishes else None,
            platform=platform.code,
        )
        await appender.start()

        async def on_hop(event) -> None:  # type: ignore[no-untyped-def]
            await when_hop_recorded_append_it_in_a_batch(event, log_=appender)

        async def on_hops(batch) -> None:  # type: ignore[no-untyped-def]
            await when_hops_recorded_append_each(batch, log_=appender)

        audit_exchange = names.AUDIT if is_hub else names.platform_exchange(platform.code)
        subscriptions = [
            *(Subscription(names.audit_queue(platform.code, lane), {HOP_RECORDED: on_hop, HOPS_RECORDED: on_hops})
              for lane in names.LANES),
            Subscription(names.unlaned_audit_queue(platform.code), {HOP_RECORDED: on_hop, HOPS_RECORDED: on_hops}),
        ]
        witness = None
        if not is_hub:
            witness = CheckpointWitness(
                infra.pool, log_id=log_id_for(federation.hub.code),
                trusted_keys=load_trusted_keys(settings.audit_trusted_keys_dir),
                trust_on_first_use=settings.audit_trust_on_first_use,
            )
            await witness.start()

            async def on_checkpoint(event) -> None:  # type: ignore[no-untyped-def]
                await when_checkpoint_published_witness_it(event, witness=witness)

            subscriptions.append(Subscription(names.checkpoints_queue(platform.code), {CHECKPOINT_PUBLISHED: on_checkpoint}))
        try:
            await infra.start_consumers(subscriptions, audit_exchange)
            auth = ApiAuth(tokens=AsyncpgTokenStore(infra.pool), events=AsyncpgSecurityEventLog(infra.pool),
                           limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
                           cache_seconds=settings.api_token_cache_seconds, hub=federation.hub.code)
            api = build_api(platform=platform.code, queries=AsyncpgAuditQueries(infra.pool), auth=auth, recorder=appender,
                            witness_view=witness.view if witness else None)
            await run_until_stopped(
                serve(api, host=settings.api_host, port=platform.api_port + settings.api_port_offset), appender.run())
        finally:
            await appender.stop()
