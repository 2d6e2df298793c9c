from datetime import UTC, datetime
from functools import partial

from shared.contracts.registry import MESSAGE
from shared.host import infrastructure, run_until_stopped
from shared.messaging import names
from shared.messaging.runtime import Subscription
from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.handlers import when_message_published_enrich_it
from services.enrichment.settings import EnrichmentSettings

SERVICE = "enrichment"


async def main(settings: EnrichmentSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        new_uow = infra.unit_of_work_factory(AsyncpgRegionalIndex)

        def handler_for(platform: str):  # type: ignore[no-untyped-def]
            async def on_message(message) -> None:  # type: ignore[no-untyped-def]
                await when_message_published_enrich_it(
                    message, uow=new_uow(), ingress_platform=platform, federation=infra.federation,
                    clock=partial(datetime.now, UTC),
                )
            return on_message

        subscriptions = [
            Subscription(names.hub_ingress_queue(p.code), {MESSAGE: handler_for(p.code)})
            for p in infra.federation.active_platforms
        ]
        await infra.start_consumers(subscriptions, names.AUDIT)
        await run_until_stopped(infra.relay().run())
