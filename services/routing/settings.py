from pathlib import Path

from shared.settings import ServiceSettings
from shared.policy import DEFAULT_POLICY_FILE


class RoutingSettings(ServiceSettings):
    platform: str = "HUB"
    policy_file: Path = DEFAULT_POLICY_FILE
