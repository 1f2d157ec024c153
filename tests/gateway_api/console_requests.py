"""Requests a console makes to the command gateway: bodies, sealed secrets, a create."""

from __future__ import annotations

import uuid
from typing import Any

from api.clients import bearer
from connmgr.schemas.sealed import SealKeyInfo, seal_secrets
from gateway_api.conftest import WriteStack

PASSWORD = "gw-Pa55-never-echoed-9f3"


def draft(name: str = "orders-db", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "kind": "postgres",
        "config": {"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
        "auth": {"method": "basic", "username": "app"},
        "tags": ["prod"],
    }
    return body | overrides


async def seal_key(stack: WriteStack) -> SealKeyInfo:
    response = await stack.client.get("/api/keys/seal", headers=bearer(stack.writer))
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    return SealKeyInfo.model_validate(await response.json())


async def sealed_for(stack: WriteStack, connection_id: str, password: str) -> dict[str, str]:
    key = await seal_key(stack)
    sealed = seal_secrets({"password": password}, key, connection_id)
    return {"sealed": sealed, "key_id": key.key_id}


async def create(stack: WriteStack, name: str = "orders-db") -> tuple[str, str]:
    """A created connection's id and ETag."""
    connection_id = str(uuid.uuid4())
    secrets = await sealed_for(stack, connection_id, PASSWORD)
    response = await stack.client.post(
        "/api/connections",
        json=draft(name, id=connection_id, secrets=secrets),
        headers=bearer(stack.writer),
    )
    assert response.status == 201, await response.text()
    return connection_id, response.headers["ETag"]
