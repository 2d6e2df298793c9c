from pathlib import Path

from pydantic import Field

from shared.http import DEFAULT_MAX_BODY_BYTES
from shared.policy import DEFAULT_POLICY_FILE
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    api_host: str = "127.0.0.1"
    api_port: int | None = Field(default=None, description="Defaults to the platform's port in the federation file.")
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    api_rate_per_second: float = Field(default=50.0, gt=0, description="Requests a second per API token, on average.")
    api_rate_burst: int = Field(default=200, ge=1, description="Requests one API token may make at once.")
    api_token_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a verified token is trusted without a lookup: a revocation takes "
        "effect at the latest this long after it is made.")
    policy_file: Path = DEFAULT_POLICY_FILE
    rfi_watch_seconds: float = Field(default=30, gt=0, description="How often RFI deadlines are checked.")
    receipts_per_batch: bool = Field(
        default=True, description="Acknowledge the messages of one delivery batch with one receipt per origin (contract "
        "1.4); false sends a receipt for each, as 1.3 did, while some platform still runs 1.3.")
    receipt_window_seconds: float = Field(
        default=1.0, ge=0, description="Receipts wait this long, queued in the database, and each round sends one per "
        "origin for every message taken in since the last; 0 sends them at the end of each delivery batch instead "
        "(receipts queued before still go out, every 30 s). Only with receipts_per_batch.")
    receipt_round: int = Field(default=1_000, ge=1, description="Messages one round of receipts confirms at most.")
    max_outbox_backlog: int = Field(
        default=20_000, ge=1, description="Unsent outbox rows above which submissions get 503 with Retry-After."
    )
