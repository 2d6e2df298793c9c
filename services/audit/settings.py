from pydantic import Field

from shared.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    api_host: str = "127.0.0.1"
    api_port_offset: int = Field(default=100, description="The audit API listens on the platform's API port plus this.")
