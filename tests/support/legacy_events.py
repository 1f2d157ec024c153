"""Events as version 1 of their models stored them, appended to a real hash chain.

Before ``notify`` existed (``schemas/upcasting.py``), e-mail recipients were
``notify_to:`` lines of a connection's description. These documents are written
here literally, as the encryptor of that time dumped them, so a test reads back
what an existing deployment's log holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import Appender, PendingEvent, StoredEvent

LEGACY_DESCRIPTION = (
    "Pager rota.\nnotify_to: ops@example.com, oncall@example.com;ops@example.com\n"
    "notify_from: alerts@example.com\nmanaged by admin@example.com\n"
    "notify_to: evil@example.com\rBcc: spy@example.com"
)


def smtp_created_v1(
    description: str, *, host: str = "127.0.0.1", port: int = 587, tags: list[str] | None = None
) -> dict[str, Any]:
    """A version-1 ``ConnectionCreated`` of an ``smtp`` channel (no ``notify`` field)."""
    return {
        "schema_version": 1,
        "name": "mail-alerts",
        "kind": "smtp",
        "template": None,
        "config": {
            "ca_pem": None,
            "server_name": None,
            "host": host,
            "port": port,
            "security": "none",
        },
        "auth": {"method": "none"},
        "secrets": None,
        "health_check": {
            "enabled": False,
            "interval_s": 60,
            "timeout_s": 5,
            "failure_threshold": 3,
            "recovery_threshold": 2,
            "latency_slo_ms": None,
            "depends_on": [],
            "auth_failure_limit": 3,
        },
        "tags": ["notify"] if tags is None else tags,
        "description": description,
    }


def updated_v1(changed: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ``ConnectionUpdated`` of the fields in ``changed``."""
    return {"schema_version": 1, "changed": sorted(changed), **changed}


async def append_events(
    engine: AsyncEngine, stream_id: str, *steps: tuple[str, dict[str, Any]], tenant: str = "acme"
) -> list[StoredEvent]:
    """``steps`` (type, data) as versions 1, 2, … of ``stream_id``, hash-chained."""
    metadata = {"command_id": None, "actor_id": "legacy", "tenant": tenant}
    pending = [
        PendingEvent(stream_id, version, event_type, tenant, data, metadata)
        for version, (event_type, data) in enumerate(steps, start=1)
    ]
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        stored = await appender.append(pending)
        await appender.finish()
    return stored
