from shared.settings import ServiceSettings


class EnrichmentSettings(ServiceSettings):
    platform: str = "HUB"
