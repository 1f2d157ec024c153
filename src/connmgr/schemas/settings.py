"""Deployment settings: the ``CONNMGR_*`` environment variables, one typed class.

Read once, in ``main()`` of each process (``Settings()``), and passed down. The
class lives in ``schemas`` because it is the deployment contract every layer is
typed against; defining it performs no I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONNMGR_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///connmgr.db",
        description="SQLAlchemy async URL: postgresql+asyncpg://… or sqlite+aiosqlite:///path",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL(s)")
    nats_user: str | None = Field(
        default=None,
        max_length=64,
        description="Pools: the NATS user to connect as (default: the pool's name)",
    )
    nats_password: SecretStr | None = Field(
        default=None,
        description="Pools: the password of their NATS user (none: connect without credentials)",
    )
    nats_operator_user: str = Field(
        default="operator", max_length=64, description="streams ensure, dlq: the NATS user"
    )
    nats_operator_password: SecretStr | None = Field(
        default=None, description="streams ensure, dlq: the operator's NATS password"
    )
    nats_token: SecretStr | None = Field(
        default=None, description="CLI: the tenant token producers connect to NATS with"
    )
    nats_tls_ca_file: Path | None = Field(
        default=None,
        description="Pools, operator: the CA of the broker's TLS certificate (tls:// URLs); "
        "unset: the system's trust store",
    )
    nats_auth_issuer_seed: SecretStr | None = Field(
        default=None, description="Auth callout: the issuer account nkey seed (SA…)"
    )
    nats_auth_issuer_seed_file: Path | None = Field(
        default=None, description="Auth callout: path of the issuer seed file (mode 0600)"
    )
    nats_credential_ttl_s: int = Field(
        default=300, ge=1, le=86400, description="Auth callout: lifetime of a tenant's user JWT"
    )
    nats_event_consumer_slots: int = Field(
        default=8, ge=0, le=1000, description="Auth callout: durable event consumers per tenant"
    )
    keyring: SecretStr | None = Field(
        default=None, description="Key ring JSON (key-encryption keys and seal keys)"
    )
    keyring_file: Path | None = Field(
        default=None, description="Path of the key ring JSON file (mode 0600)"
    )
    allow_plaintext_secrets: bool = Field(
        default=False, description="Accept unsealed secrets in commands (dev only)"
    )
    egress_allow_loopback: bool = Field(
        default=False, description="Let checks connect to loopback addresses"
    )
    egress_allow_link_local: bool = Field(
        default=False, description="Let checks connect to link-local addresses"
    )
    egress_allow_private: bool = Field(
        default=True, description="Let checks connect to private (RFC 1918, ULA) addresses"
    )
    egress_allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="If set, checks may connect only inside these CIDRs (JSON list)",
    )
    egress_denied_cidrs: list[str] = Field(
        default_factory=list, description="Checks never connect inside these CIDRs (JSON list)"
    )
    tester_concurrency: int = Field(default=64, ge=1, le=4096, description="Checks run at once")
    tester_per_target: int = Field(
        default=4, ge=1, le=256, description="Checks at once against one host:port"
    )
    api_host: str = Field(default="127.0.0.1", description="API listen address")
    api_port: int = Field(default=8080, ge=0, le=65535, description="API listen port")
    api_writes: bool = Field(
        default=False,
        description="API: mount the command gateway's write routes (needs NATS)",
    )
    api_streams_per_token: int = Field(
        default=8, ge=1, le=100000, description="API: open event streams per token"
    )
    api_stream_heartbeat_s: float = Field(
        default=15.0, gt=0, le=300, description="API: seconds between event-stream heartbeats"
    )
    api_chain_verify_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="API: seconds between verifications of the events appended to the chain",
    )
    api_chain_full_verify_interval_s: float = Field(
        default=3600.0,
        gt=0,
        le=604800,
        description="API: seconds between walks of the whole hash chain",
    )
    api_gauges_max_age_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="API: seconds a read of /metrics' fleet gauges serves later scrapes",
    )
    gateway_wait_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="API: how long a write route waits for its outcome before 202",
    )
    health_host: str = Field(
        default="127.0.0.1", description="Workers: listen address of the probe port"
    )
    health_port: int = Field(
        default=8081,
        ge=0,
        le=65535,
        description="Workers: probe port (GET /livez, /readyz, /metrics); 0 disables it",
    )
    metrics_interval_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Workers: how often consumer backlog and relay lag are read for /metrics",
    )
    batch_size: int = Field(default=256, ge=1, le=4096, description="Messages fetched per batch")
    batches_in_flight: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Encryptor: batches handled at once (one is decided while another is written)",
    )
    relay_batch_size: int = Field(default=500, ge=1, le=10000, description="Events per relay batch")
    shutdown_grace_s: float = Field(
        default=20.0, gt=0, description="Time to finish in-flight work after SIGTERM"
    )
    tenant: str = Field(
        default="default", pattern=r"^[a-z0-9_-]{1,64}$", description="CLI: tenant of commands"
    )
    actor: str = Field(default="cli", max_length=200, description="CLI: actor id of commands")
    api_url: str = Field(default="http://127.0.0.1:8080", description="CLI: read API base URL")
    api_token: SecretStr | None = Field(default=None, description="CLI: read API bearer token")
    samples_retention_days: int = Field(
        default=7, ge=1, le=365, description="Raw probe samples are kept this long"
    )
    minute_rollups_retention_days: int = Field(
        default=8, ge=1, le=3650, description="Per-minute roll-ups are kept this long"
    )
    hour_rollups_retention_days: int = Field(
        default=90, ge=1, le=3650, description="Per-hour roll-ups are kept this long"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: JSON unless stderr is a terminal"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
