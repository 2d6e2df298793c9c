from shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    platform: str = "HUB"
