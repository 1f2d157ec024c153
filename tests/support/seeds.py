"""Test data for the read side: projection rows and log events, inserted directly.

The read side does not depend on the projection fold or the event store, so tests
write the rows those would write. Every secret-looking value comes from ``MARKERS``,
so a test can assert that none of them appears in any response.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.tables import connection_tags, connections, events, probe_state

CIPHERTEXT: Final = "Y2lwaGVydGV4dC1tYXJrZXI-ciphertext-do-not-leak"
NONCE: Final = "bm9uY2UtbWFya2Vy-nonce-do-not-leak"
PLAINTEXT: Final = "hunter2-plaintext-do-not-leak"
MARKERS: Final = (CIPHERTEXT, NONCE, PLAINTEXT)
MOMENT: Final = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def sealed_secrets(field_names: Sequence[str], version: int = 1) -> dict[str, Any]:
    """A stored secrets document, with a stray plaintext value the read side must drop."""
    return {
        "secrets_version": version,
        "field_names": list(field_names),
        "nonce": NONCE,
        "ciphertext": CIPHERTEXT,
        "algorithm": "AES-256-GCM",
        "password": PLAINTEXT,
    }


@dataclass(frozen=True)
class Seed:
    """Inserts projection rows and events into a migrated database."""

    engine: AsyncEngine

    async def connection(
        self,
        name: str = "orders-db",
        *,
        tenant: str = "acme",
        kind: str = "postgres",
        status: str = "unknown",
        tags: Sequence[str] = (),
        description: str = "",
        secret_fields: Sequence[str] | None = ("password",),
        version: int = 1,
        deleted: bool = False,
        connection_id: str | None = None,
    ) -> str:
        """A projection row (and its tag rows); returns its id."""
        identifier = connection_id or str(uuid.uuid4())
        secrets = None if secret_fields is None else sealed_secrets(secret_fields)
        row = {
            "id": identifier,
            "tenant": tenant,
            "name": name,
            "kind": kind,
            "template": None,
            "config": {"host": "db.internal", "port": 5432, "database": "orders"},
            "auth": {"method": "basic", "username": "app"},
            "secrets": secrets,
            "health_check": {"enabled": False, "interval_s": 60},
            "tags": list(tags),
            "description": description,
            "status": status,
            "version": version,
            "deleted": deleted,
            "created_at": MOMENT,
            "updated_at": MOMENT,
        }
        async with write_transaction(self.engine) as connection:
            await connection.execute(connections.insert().values(**row))
            for tag in tags:
                tag_row = {"connection_id": identifier, "tag": tag}
                await connection.execute(connection_tags.insert().values(**tag_row))
        return identifier

    async def event(
        self,
        stream_id: str,
        version: int,
        event_type: str,
        data: dict[str, Any],
        *,
        tenant: str = "acme",
    ) -> int:
        """An event at the next log position; returns that position."""
        metadata = {
            "command_id": str(uuid.uuid4()),
            "actor_id": "tester",
            "tenant": tenant,
            "correlation_id": None,
            "causation_id": None,
        }
        async with write_transaction(self.engine) as connection:
            last = (await connection.execute(select(func.max(events.c.position)))).scalar()
            position = (last or 0) + 1
            row = {
                "position": position,
                "event_id": str(uuid.uuid4()),
                "stream_id": stream_id,
                "version": version,
                "type": event_type,
                "tenant": tenant,
                "data": data,
                "metadata": metadata,
                "recorded_at": MOMENT,
                "hash": hashlib.sha256(str(position).encode()).hexdigest(),
            }
            await connection.execute(events.insert().values(**row))
        return position

    async def history(self, connection_id: str, *, tenant: str = "acme") -> list[int]:
        """Created, updated (new secrets), rotated, tested: four events carrying secrets."""
        created = {
            "schema_version": 1,
            "name": "orders-db",
            "kind": "postgres",
            "template": None,
            "config": {"host": "db.internal"},
            "auth": {"method": "basic", "username": "app"},
            "secrets": sealed_secrets(["password"]),
            "health_check": {"enabled": False},
            "tags": [],
            "description": "",
        }
        updated = {"changed": ["secrets"], "secrets": sealed_secrets(["password"], 2)}
        rotated = {"secrets": sealed_secrets(["password"], 3)}
        tested = {"ok": True, "latency_ms": 12, "nested": [{"ciphertext": CIPHERTEXT}]}
        steps = [
            ("ConnectionCreated", created),
            ("ConnectionUpdated", updated),
            ("SecretsRotated", rotated),
            ("ConnectionTested", tested),
        ]
        return [
            await self.event(connection_id, version, kind, data, tenant=tenant)
            for version, (kind, data) in enumerate(steps, start=1)
        ]

    async def last_check(
        self, connection_id: str, latency_ms: float, *, tenant: str = "acme", at: datetime = MOMENT
    ) -> None:
        """The prober's state of a connection it has counted a check of (``probe_state``)."""
        row = {
            "connection_id": connection_id,
            "tenant": tenant,
            "status": "healthy",
            "last_check_at": at,
            "last_latency_ms": latency_ms,
            "consecutive_failures": 0,
            "consecutive_successes": 1,
            "consecutive_auth_failures": 0,
            "recent": "S",
            "suspended": False,
            "updated_at": at,
        }
        async with write_transaction(self.engine) as connection:
            await connection.execute(probe_state.insert().values(**row))

    async def rejection(self, connection_id: str, *, tenant: str = "acme") -> int:
        """A CommandRejected event: its own stream (the command id), about ``connection_id``."""
        command_id = str(uuid.uuid4())
        data = {
            "command_id": command_id,
            "connection_id": connection_id,
            "command_type": "update",
            "reason": "not_found",
            "message": "no such connection",
            "errors": [],
        }
        return await self.event(command_id, 1, "CommandRejected", data, tenant=tenant)
