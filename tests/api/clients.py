"""HTTP helpers of the API tests: the client type, the tokens fixture's shape, headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from aiohttp import web
from aiohttp.test_utils import TestClient

ApiClient: TypeAlias = TestClient[web.Request, web.Application]


@dataclass(frozen=True)
class Tokens:
    acme: str
    """Tenant ``acme``, both scopes."""
    globex: str
    """Tenant ``globex``, both scopes."""
    connections_only: str
    """Tenant ``acme``, ``connections:read`` only."""
    events_only: str
    """Tenant ``acme``, ``events:read`` only."""
    metrics: str
    """An operator's ``metrics:read`` token (no tenant reads)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def get_json(client: ApiClient, path: str, token: str, **params: Any) -> Any:
    """GET with the token; asserts 200 and returns the JSON body."""
    response = await client.get(path, params=params, headers=bearer(token))
    assert response.status == 200, await response.text()
    return await response.json()
