from datetime import UTC, datetime
from functools import partial

from shared.contracts.registry import MESSAGE_ENRICHED
from shared.host import infrastructure, run_until_stopped
from shared.messaging import names
from shared.messaging.runtime import Subscription, bind
from services.routing.adapters import AsyncpgRoutingStore
from services.routing.handlers import when_message_enriched_route_it
from shared.policy import load_policy
from services.routing.settings import RoutingSettings

SERVICE = "routing"


async def main(settings: RoutingSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        new_uow = {lane: infra.unit_of_work_factory(AsyncpgRoutingStore, lane=lane) for lane in names.LANES}
        policy = load_policy(settings.policy_file)
        subscriptions = [
            Subscription(names.hub_routing_queue(lane), {MESSAGE_ENRICHED: bind(
                when_message_enriched_route_it, new_uow=new_uow[lane], federation=infra.live_federation, policy=policy,
                clock=partial(datetime.now, UTC), lane=lane,
            )})
            for lane in names.LANES
        ]
        await infra.start_consumers(subscriptions, names.AUDIT)
        await run_until_stopped(infra.relay().run())
