"""Settings every service shares. Each service subclasses this once; nothing reads the environment at import."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.db.lanes import LaneLimits
from shared.federation import DEFAULT_FEDERATION_FILE


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PCMS_", extra="ignore", frozen=True)

    platform: str = Field(pattern=r"^[A-Z]{2,5}$", description="Platform this process serves (HUB, MR, NE...).")
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="The process's event loop: uvloop (libuv), or Python's own asyncio loop. Each "
        "message costs a few dozen loop callbacks (broker frames, database round trips, HTTP); uvloop runs them for "
        "less CPU (figures in docs/benchmarks.md, 5 Dec morning).")
    amqp_url: SecretStr = Field(
        default=SecretStr("amqp://guest:guest@127.0.0.1:5672/"),
        validation_alias=AliasChoices("PCMS_AMQP_URL", "AMQP_URL"),
    )
    amqp_connect_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long the broker may take to complete the AMQP handshake before the attempt "
        "is logged as failed and retried.")
    amqp_tls: bool = Field(default=False, description="Connect with amqps (also implied by an amqps:// URL or a CA file).")
    amqp_tls_ca_file: Path | None = Field(default=None, description="CA bundle that signed the broker's certificate.")
    amqp_tls_cert_file: Path | None = Field(default=None, description="Client certificate (with amqp_tls_key_file).")
    amqp_tls_key_file: Path | None = Field(default=None, description="Private key of the client certificate.")
    amqp_tls_verify: bool = Field(default=True, description="Verify the broker's certificate (never off in production).")
    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"),
        validation_alias=AliasChoices("PCMS_DATABASE_URL", "DATABASE_URL"),
        description="Any database on the server; each platform's own database is derived from it.",
    )
    database_ssl_mode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = Field(
        default=None,
        description="TLS to PostgreSQL, as libpq's sslmode: verify-full in production (verify-ca skips the host "
        "name; require and prefer do not check the certificate). Unset: verify-full if a certificate is set, else "
        "what the URL's ?sslmode= says (shared/db/connect.py DatabaseTls).",
    )
    database_ssl_root_cert: Path | None = Field(default=None, description="CA bundle that signed the server's certificate.")
    database_ssl_cert: Path | None = Field(default=None, description="Client certificate (with database_ssl_key).")
    database_ssl_key: Path | None = Field(default=None, description="Private key of the client certificate.")
    database_prefix: str = Field(default="pcms_", pattern=r"^[a-z][a-z0-9_]*$")
    federation_file: Path = DEFAULT_FEDERATION_FILE
    secrets_dir: Path | None = Field(
        default=None,
        description="This deployment's secrets: broker/<user> passwords and signing/<CODE>.* private keys. "
        "Read at start, never logged.",
    )
    signature_max_age_seconds: float = Field(
        default=7 * 86_400, gt=0,
        description="A delivery signed longer ago than this is quarantined as a possible replay.",
    )
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    prefetch: int = Field(default=64, ge=1, le=10_000, description="Unacknowledged deliveries per urgent or unlaned queue.")
    routine_prefetch: int = Field(
        default=16, ge=1, le=10_000, description="Per routine-lane queue: few, so routine handlers never queue for "
        "database connections ahead of an alert's.")
    bulk_prefetch: int = Field(default=4, ge=1, le=10_000, description="Per bulk-lane queue (imports), for the same reason.")
    database_pool_size: int = Field(
        default=5, ge=2, le=100, description="Connections per process."
    )
    database_urgent_reserve: int = Field(
        default=2, ge=1, le=99, description="Connections of the pool that routine and bulk work never take: left for "
        "urgent handlers and the urgent relay (shared/db/lanes.py). Less than database_pool_size.")
    database_bulk_connections: int = Field(
        default=1, ge=1, le=100, description="Connections bulk work (imports) may hold at once in one process.")
    relay_batch: int = Field(
        default=200, ge=1, le=5_000, description="Urgent outbox rows one relay round takes, publishes and marks sent; "
        "the next alert waits for the round's confirms, so rounds of 1,000 raised p99 at 50 alerts/s.")
    relay_lower_batch: int = Field(
        default=1_000, ge=1, le=5_000, description="Routine and bulk rows one relay round takes. A round waits for the "
        "broker's confirms, so this bounds what a platform publishes of an import: with 200, NE published about 630 "
        "records a second and its backlog refused the import for the rest.")
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    relay_linger_seconds: float = Field(
        default=0.25, ge=0, le=5,
        description="How long the relay's loop of lingering rows (hops, routing decisions, hit notifications: "
        "shared/messaging/relay.py) waits after a commit before its round, so those of the messages handled "
        "meanwhile leave joined instead of one message each. They arrive that much later; a message itself never "
        "waits. 0: a round at every commit.")
    relay_batch_items: int = Field(
        default=100, ge=1, le=500,
        description="Rows of one relay round for one destination that leave joined in one pcms.batch_relayed "
        "(contract 1.3); 1 sends every message alone, as before 1.3 (for members whose consumers are older).")

    @model_validator(mode="after")
    def _urgent_keeps_connections(self) -> "ServiceSettings":
        try:
            self.lane_limits  # noqa: B018
        except ValueError as problem:
            raise ValueError(f"database_urgent_reserve {self.database_urgent_reserve} with database_pool_size "
                             f"{self.database_pool_size}: {problem}") from None
        return self

    @property
    def lane_limits(self) -> LaneLimits:
        return LaneLimits(size=self.database_pool_size, reserved_for_urgent=self.database_urgent_reserve,
                          bulk=self.database_bulk_connections)

    @property
    def database_name(self) -> str:
        return f"{self.database_prefix}{self.platform.lower()}"
