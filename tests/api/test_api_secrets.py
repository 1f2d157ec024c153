"""No secret material in any response: every route, every status, both tenants."""

from __future__ import annotations

import uuid

from api.clients import ApiClient, Tokens, bearer
from support.seeds import MARKERS, Seed


async def test_no_response_contains_ciphertext_nonce_or_plaintext(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection(secret_fields=["password", "api_key"])
    theirs = await seed.connection(tenant="globex")
    for connection_id, tenant in ((mine, "acme"), (theirs, "globex")):
        await seed.history(connection_id, tenant=tenant)
        await seed.rejection(connection_id, tenant=tenant)
    paths = [
        "/api/connections",
        "/api/connections?limit=1",
        "/api/events?limit=200",
        "/metrics",
        "/api/openapi.json",
        "/healthz",
        "/readyz",
    ]
    for connection_id in (mine, theirs, str(uuid.uuid4())):
        paths += [f"/api/connections/{connection_id}", f"/api/connections/{connection_id}/logs"]

    bodies = []
    for token in (tokens.acme, tokens.globex, tokens.connections_only, "cm_wrong"):
        for path in paths:
            response = await client.get(path, headers=bearer(token))
            bodies.append((path, response.status, await response.text()))

    assert {status for _, status, _ in bodies} >= {200, 401, 403, 404}
    for path, _, body in bodies:
        for marker in (*MARKERS, '"ciphertext"', '"nonce"'):
            assert marker not in body, (path, marker)
