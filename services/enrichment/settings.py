from pathlib import Path

from pydantic import Field

from shared.http import DEFAULT_MAX_BODY_BYTES
from shared.policy import DEFAULT_POLICY_FILE
from shared.settings import ServiceSettings


class EnrichmentSettings(ServiceSettings):
    platform: str = "HUB"
    api_host: str = "127.0.0.1"
    api_port: int | None = Field(default=None, description="Defaults to the hub's api_port + api_port_offset.")
    api_port_offset: int = Field(default=200, ge=1, description="Matching API port relative to the hub's API port.")
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    api_rate_per_second: float = Field(default=50.0, gt=0, description="Requests a second per API token, on average.")
    api_rate_burst: int = Field(default=200, ge=1, description="Requests one API token may make at once.")
    api_token_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a verified token is trusted without a lookup: a revocation takes "
        "effect at the latest this long after it is made.")
    rebuild_batch: int = Field(default=2_000, ge=1, le=100_000,
                               description="Rows per fetch when the in-memory index is rebuilt at start.")
    catch_up_seconds: float = Field(
        default=30.0, ge=0.1, description="How often the in-memory index is checked against the store for messages "
        "committed without reaching it (a database that went away during a COMMIT it carried out).")
    hits_per_entity: int = Field(default=5, ge=1, le=100, description="Most scored candidates kept per entity.")
    max_hits: int = Field(default=50, ge=1, le=1_000, description="Most hits attached to one message.")
    routes_in_process: bool = Field(
        default=True, description="Route each enriched message in the enrichment's own transaction instead of "
        "publishing it for the routing service: one hop fewer for every message through the hub. False leaves "
        "routing to the routing service alone (which runs either way, and routes what reaches its queues).")
    policy_file: Path = Field(default=DEFAULT_POLICY_FILE, description="The routing policy, when routing in process.")
