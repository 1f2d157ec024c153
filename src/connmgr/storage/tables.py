"""Table definitions (SQLAlchemy Core). Alembic migrations create them.

- ``events``: append-only, hash-chained; ``position`` is assigned under the
  ``chain_head`` row lock, so positions commit in order (see ``event_store``).
- ``connections`` + ``connection_tags``: the projection, a pure fold of the events.
- ``data_keys``: per-connection wrapped data keys; deleting a row crypto-shreds.
- ``handled_commands``: one row per ``(tenant, command_id)``, the exactly-once guarantee.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(36), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    Index("ix_events_tenant_position", "tenant", "position"),
    Index("ix_events_tenant_type_position", "tenant", "type", "position"),
)

chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

connections = Table(
    "connections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("template", String(128)),
    Column("config", JSON, nullable=False),
    Column("auth", JSON, nullable=False),
    Column("secrets", JSON),
    Column("health_check", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_test", JSON),
    Column("status_since", DateTime(timezone=True)),
    Column("notify", JSON),
    Index("ix_connections_tenant_name", "tenant", "name", "id"),
    Index("ix_connections_tenant_status_name", "tenant", "status", "name", "id"),
    Index("ix_connections_tenant_kind_name", "tenant", "kind", "name", "id"),
)

# Issue 15: the list's ``q`` filter (a substring of the lower-cased name or description)
# searches these trigram indexes instead of every row of the tenant. PostgreSQL only
# (``pg_trgm``); ``info["dialects"]`` names where the migrations build an index.
for _column in ("name", "description"):
    Index(
        f"ix_connections_{_column}_trigrams",
        func.lower(connections.c[_column]).label(f"lower_{_column}"),
        postgresql_using="gin",
        postgresql_ops={f"lower_{_column}": "gin_trgm_ops"},
        info={"dialects": ("postgresql",)},
    )

connection_tags = Table(
    "connection_tags",
    metadata,
    Column(
        "connection_id",
        String(36),
        ForeignKey("connections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag", String(64), primary_key=True),
    Index("ix_connection_tags_tag", "tag"),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("connection_id", String(36), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

handled_commands = Table(
    "handled_commands",
    metadata,
    Column("command_id", String(36), nullable=False),
    Column("connection_id", String(36)),
    Column("tenant", String(64), nullable=False),
    Column("outcome", JSON, nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant", "command_id", name="pk_handled_commands"),
)

relay_checkpoints = Table(
    "relay_checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False),
)

samples = Table(
    "samples",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("check_id", String(80), nullable=False, unique=True),
    Column("connection_id", String(36), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("phases", JSON, nullable=False),
    Index("ix_samples_connection_time", "connection_id", "checked_at"),
    Index("ix_samples_time", "checked_at"),
    Index("ix_samples_tenant_time", "tenant", "checked_at"),
)

# Issue 15: the samples of one connection for one hour, packed (``storage.sample_codec``)
# once that hour is rolled up and older than the raw-only stats window; ``samples``
# keeps the recent ones (``storage.sample_packing``).
sample_blocks = Table(
    "sample_blocks",
    metadata,
    Column("connection_id", String(36), primary_key=True),
    Column("bucket_start", DateTime(timezone=True), primary_key=True),
    Column("tenant", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_sample_blocks_time", "bucket_start"),
)

sample_rollups = Table(
    "sample_rollups",
    metadata,
    Column("connection_id", String(36), primary_key=True),
    Column("resolution", String(8), primary_key=True),
    Column("bucket_start", DateTime(timezone=True), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("latency_p50_ms", Float, nullable=False),
    Column("latency_p95_ms", Float, nullable=False),
    Column("latency_p99_ms", Float, nullable=False),
    Column("latency_max_ms", Float, nullable=False),
    Index("ix_sample_rollups_time", "resolution", "bucket_start"),
    Index("ix_sample_rollups_tenant_time", "tenant", "resolution", "bucket_start"),
)

# Issue 15: the roll-ups of one connection for one block, packed
# (``storage.rollup_codec``): minute buckets by the hour, hour buckets by the day,
# once their resolution has rolled past the block; ``sample_rollups`` keeps the
# buckets of the blocks being rolled (``storage.rollup_packing``).
rollup_blocks = Table(
    "rollup_blocks",
    metadata,
    Column("connection_id", String(36), primary_key=True),
    Column("resolution", String(8), primary_key=True),
    Column("bucket_start", DateTime(timezone=True), primary_key=True),
    Column("tenant", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_rollup_blocks_time", "resolution", "bucket_start"),
    Index("ix_rollup_blocks_tenant_time", "tenant", "resolution", "bucket_start"),
)

rollup_checkpoints = Table(
    "rollup_checkpoints",
    metadata,
    Column("resolution", String(8), primary_key=True),
    Column("rolled_until", DateTime(timezone=True), nullable=False),
)

probe_state = Table(
    "probe_state",
    metadata,
    Column("connection_id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_since", DateTime(timezone=True)),
    Column("last_check_at", DateTime(timezone=True)),
    # Issue 15: the latency of the check at ``last_check_at``, so that /metrics' latency
    # gauge reads one row per connection instead of looking up its newest sample.
    Column("last_latency_ms", Float),
    Column("consecutive_failures", Integer, nullable=False),
    Column("consecutive_successes", Integer, nullable=False),
    Column("consecutive_auth_failures", Integer, nullable=False),
    Column("recent", String(32), nullable=False),
    Column("open_alert_id", String(36)),
    Column("alert_raised_at", DateTime(timezone=True)),
    Column("suspended", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Issue 15: one row per alert, folded from the log's ``AlertRaised`` and
# ``AlertResolved`` in the transaction that appends them (``storage.alerts``), so a
# page of the alerts list is a range of an index, not a join over the whole history.
# ``state_rank`` is 0 while open, 1 once resolved: the list's order and its cursor.
alerts = Table(
    "alerts",
    metadata,
    Column("raised_position", BigInteger, primary_key=True, autoincrement=False),
    Column("alert_id", String(36), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("connection_id", String(36), nullable=False),
    Column("state_rank", Integer, nullable=False),
    Column("raised", JSON, nullable=False),
    Column("resolved", JSON),
    Index("ix_alerts_tenant_rank_position", "tenant", "state_rank", "raised_position"),
    Index("ix_alerts_connection_rank_position", "connection_id", "state_rank", "raised_position"),
)

# Notifier (issue 4, item 5): one row per (alert event, channel), the exactly-once
# record of a delivery. ``status``: ``pending`` (tried, will be retried),
# ``delivered`` or ``failed`` (both final: a redelivered alert is not sent again).
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("channel_id", String(36), primary_key=True),
    Column("alert_id", String(36), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error_code", String(64)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_notification_deliveries_alert", "alert_id", "status"),
)
