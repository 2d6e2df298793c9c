"""Names of exchanges, queues and routing keys. One place, so the topology reads like a map."""

HUB_ENRICHED = "pcms.hub.enriched"
DELIVERY = "pcms.delivery"
AUDIT = "pcms.audit"
QUARANTINE = "pcms.quarantine"
DEAD_LETTER = "pcms.dlx"
RETRY = "pcms.retry"
RETRY_DELAYS_SECONDS = (1, 5, 30, 120, 600)
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
    """The parking lot of a queue: what the broker dead-letters and what the runtime parks after its last retry."""
    return f"{queue}.dlq"


def delay_exchange(seconds: int) -> str:
    return f"pcms.delay.{seconds}s"


def delay_queue(seconds: int) -> str:
    return f"pcms.delay.{seconds}s"


def message_key(kind: str, priority: str) -> str:
    return f"message.{kind}.{priority}"


def audit_key(hop: str) -> str:
    return f"audit.{hop}"


def quarantine_key(platform: str, service: str) -> str:
    return f"{platform}.{service}"
