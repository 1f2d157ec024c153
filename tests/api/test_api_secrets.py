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
from support.secret_scan import SecretScanner
from support.seeds import MARKERS, Seed

NEIGHBOUR_NAME = "globex-payroll-db-4b7d"


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
        "/api/asyncapi.json",
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


async def test_no_problem_document_echoes_a_secret_or_the_neighbours_data(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection("acme-orders")
    theirs = await seed.connection(NEIGHBOUR_NAME, tenant="globex")
    await seed.history(theirs, tenant="globex")
    sent_secret = "cm_sent-in-a-query-7c1e9a4f2b"
    cursor = f"{theirs}:{NEIGHBOUR_NAME}"  # a cursor naming the neighbour's row
    asks = [
        (tokens.acme, f"/api/connections/{theirs}"),  # 404: theirs, like a missing one
        (tokens.acme, f"/api/connections/{theirs}/logs"),
        (tokens.acme, f"/api/connections/{theirs}/checks"),
        (tokens.acme, f"/api/connections/stats?connection_id={theirs}"),
        (tokens.acme, f"/api/connections?cursor={cursor}&limit=0"),  # 400, cursor kept out
        (tokens.acme, f"/api/connections?q={sent_secret}&q=x"),  # 400: repeated
        (tokens.acme, f"/api/connections?{sent_secret}=1"),  # 400: unknown parameter
        (tokens.acme, f"/api/connections/{mine}/checks?since={sent_secret}"),
        (tokens.acme, f"/api/{sent_secret}"),  # 404, unmatched
        (sent_secret, "/api/connections"),  # 401: a token that is not one
        (tokens.events_only, f"/api/connections?q={sent_secret}"),  # 403
        (tokens.metrics, f"/api/connections/{theirs}"),  # 403: the operator reads no tenant
    ]

    scanner = SecretScanner()
    for label, secret in (("sent", sent_secret), ("acme", tokens.acme)):
        scanner.add(label, secret)
    for label, secret in (("events", tokens.events_only), ("operator", tokens.metrics)):
        scanner.add(label, secret)
    for marker in MARKERS:
        scanner.add("stored secret", marker)
    responses = {}
    statuses = set()
    for token, path in asks:
        response = await client.get(path, headers=bearer(token))
        body = await response.text()
        statuses.add(response.status)
        assert response.content_type == "application/problem+json", path
        for theirs_too in (theirs, NEIGHBOUR_NAME):
            assert theirs_too not in body, (path, theirs_too)
        responses[f"{path} as {token[:6]}…"] = f"{json.dumps(dict(response.headers))} {body}"

    assert statuses == {400, 401, 403, 404}
    scanner.assert_clean(responses)  # the request logs hold what was sent: not searched
