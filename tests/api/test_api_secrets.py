"""No secret material in any response: every route, every status, both tenants.

The stored secret markers and every API token are searched, in every form the
scanner knows, in each response (status, headers, body) and on every log and
output channel of the app while it answered (``leak_channels``).
"""

from __future__ import annotations

import json
import uuid

from api.clients import ApiClient, Tokens, bearer
from support.leaks import LeakChannels
from support.seeds import MARKERS, Seed


async def test_no_response_contains_ciphertext_nonce_or_plaintext(
    client: ApiClient, seed: Seed, tokens: Tokens, leak_channels: LeakChannels
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
    leak_channels.watch_from_here()  # the seeding above wrote the markers on purpose
    wrong = "cm_wrong-3f9a1c7e5b2d"
    for token in (tokens.acme, tokens.globex, tokens.connections_only, wrong):
        for path in paths:
            response = await client.get(path, headers=bearer(token))
            body = await response.text()
            bodies.append((path, response.status, body))
            leak_channels.add(
                f"{path} as {token[:6]}…", f"{json.dumps(dict(response.headers))} {body}"
            )

    assert {status for _, status, _ in bodies} >= {200, 401, 403, 404}
    for path, _, body in bodies:
        for field in ('"ciphertext"', '"nonce"'):
            assert field not in body, (path, field)
    leak_channels.secrets(*MARKERS, tokens.acme, tokens.globex, tokens.connections_only, wrong)
    leak_channels.secrets(tokens.events_only, tokens.metrics)
    leak_channels.assert_clean()
