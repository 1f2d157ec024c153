"""Builders of raw command documents, for tests that publish or process them directly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from connmgr.schemas.bus.subjects import command_subject
from connmgr.schemas.sealed import SealKeyInfo, seal_secrets

TENANT = "acme"


def command(
    verb: str,
    connection_id: str,
    payload: dict[str, Any],
    *,
    tenant: str = TENANT,
    command_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "command_id": command_id or str(uuid.uuid4()),
        "type": verb,
        "connection_id": connection_id,
        "issued_at": datetime.now(UTC).isoformat(),
        "actor": {"id": "tester", "tenant": tenant},
        "payload": payload,
        **extra,
    }


def postgres_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "orders-db",
        "kind": "postgres",
        "config": {"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
        "auth": {"method": "basic", "username": "app"},
        "tags": ["prod"],
    }
    payload.update(overrides)
    return payload


def sealed(secrets: dict[str, str], key: SealKeyInfo, connection_id: str) -> dict[str, str]:
    return {"sealed": seal_secrets(secrets, key, connection_id), "key_id": key.key_id}


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def subject_of(document: dict[str, Any], tenant: str = TENANT) -> str:
    return command_subject(tenant, document["type"], document["connection_id"])
