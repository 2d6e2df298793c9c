from shared.contracts.registry import HOP_RECORDED
from shared.host import infrastructure, run_until_stopped
from shared.http import serve
from shared.messaging import names
from shared.messaging.runtime import Subscription, bind
from services.audit.adapters import AsyncpgAuditLog, AsyncpgAuditQueries
from services.audit.api import build_api
from services.audit.handlers import when_hop_recorded_append_it
from services.audit.settings import AuditSettings

SERVICE = "audit"


async def main(settings: AuditSettings) -> None:
    async with infrastructure(SERVICE, settings) as infra:
        new_uow = infra.unit_of_work_factory(AsyncpgAuditLog)
        platform = infra.federation.get(settings.platform)

        on_hop = bind(when_hop_recorded_append_it, new_uow=new_uow)

        audit_exchange = names.AUDIT if platform.role == "hub" else names.platform_exchange(platform.code)
        await infra.start_consumers([Subscription(names.audit_queue(platform.code), {HOP_RECORDED: on_hop})], audit_exchange)
        api = build_api(platform=platform.code, queries=AsyncpgAuditQueries(infra.pool))
        await run_until_stopped(serve(api, host=settings.api_host, port=platform.api_port + settings.api_port_offset))
