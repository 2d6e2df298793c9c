from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    api_host: str = "127.0.0.1"
    api_port_offset: int = Field(default=100, description="The audit API listens on the platform's API port plus this.")
    api_rate_per_second: float = Field(default=50.0, gt=0, description="Requests a second per API token, on average.")
    api_rate_burst: int = Field(default=200, ge=1, description="Requests one API token may make at once.")
    api_token_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a verified token is trusted without a lookup: a revocation takes "
        "effect at the latest this long after it is made.")
    prefetch: int = Field(default=100, ge=1, le=10_000,
                          description="Deliveries in flight. Under load each is a relay round's HopsRecorded (up to "
                                      "PCMS_RELAY_BATCH hops), so a few fill the appender's batches; more would only "
                                      "hold parsed hops in memory (1,000 took the hub's audit to 149 MB).")
    audit_batch_max: int = Field(default=500, ge=1, le=10_000, description="Entries appended per transaction at most.")
    audit_batch_linger_ms: float = Field(default=2.0, ge=0, le=1000,
                                         description="How long a batch waits for company before it commits.")
    audit_checkpoint_every: int = Field(default=1000, ge=1, description="Sign a checkpoint after this many entries...")
    audit_checkpoint_seconds: float = Field(default=5.0, gt=0, description="...or this long after an unsigned entry.")
    audit_checkpoint_max_leaves: int = Field(
        default=10_000, ge=0, description="Leaf hashes sent with a checkpoint at most (witness mirror).")
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="PEM Ed25519 private key signing this platform's checkpoints; `{platform}` is replaced by the "
                    "platform code. Unset (development): .run/keys/audit-<platform>.pem, generated if missing.",
    )
    audit_key_dir: Path = Field(default=Path(".run/keys"), description="Where development keys are generated.")
    audit_trusted_keys_dir: Path | None = Field(
        default=None, description="Directory of PEM public keys a witness trusts (the hub's audit key).")
    audit_trust_on_first_use: bool = Field(
        default=True,
        description="Development: a witness without a trusted key learns the key of the first checkpoint it sees. "
                    "Turn off in production and distribute the hub's public key instead.",
    )
    audit_retention_file: Path = Field(default=Path(__file__).resolve().parents[2] / "deploy" / "audit-retention.yaml",
                                       description="The retention policy `pcms audit purge` applies.")
