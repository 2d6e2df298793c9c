"""Names of exchanges, queues and routing keys. One place, so the topology reads like a map."""

HUB_ENRICHED = "pcms.hub.enriched"
DELIVERY = "pcms.delivery"
AUDIT = "pcms.audit"
QUARANTINE = "pcms.quarantine"
DEAD_LETTER = "pcms.dlx"
HUB_ROUTING_QUEUE = "hub.routing"


def platform_exchange(platform: str) -> str:
    return f"pcms.platform.{platform}"


def hub_ingress_queue(platform: str) -> str:
    return f"hub.ingress.{platform}"


def inbox_queue(platform: str) -> str:
    return f"inbox.{platform}"


def audit_queue(platform: str) -> str:
    return f"audit.{platform}"


def quarantine_queue(platform: str) -> str:
    return f"quarantine.{platform}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


def message_key(kind: str, priority: str) -> str:
    return f"message.{kind}.{priority}"


def audit_key(hop: str) -> str:
    return f"audit.{hop}"


def quarantine_key(platform: str, service: str) -> str:
    return f"{platform}.{service}"
