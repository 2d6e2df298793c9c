from datetime import UTC, datetime
from functools import partial

from shared.contracts.registry import MESSAGE
from shared.host import infrastructure, run_until_stopped
from shared.messaging import names
from shared.messaging.runtime import Subscription, bind
from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.handlers import when_message_published_enrich_it
from services.enrichment.settings import EnrichmentSettings

SERVICE = "enrichment"


async def main(settings: EnrichmentSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        new_uow = infra.unit_of_work_factory(AsyncpgRegionalIndex)
        subscriptions = [
            Subscription(names.hub_ingress_queue(p.code), {MESSAGE: bind(
                when_message_published_enrich_it, new_uow=new_uow, ingress_platform=p.code,
                federation=infra.federation, clock=partial(datetime.now, UTC),
            )})
            for p in infra.federation.active_platforms
        ]
        await infra.start_consumers(subscriptions, names.AUDIT)
        await run_until_stopped(infra.relay().run())
