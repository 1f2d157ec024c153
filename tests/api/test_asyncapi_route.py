"""``/api/asyncapi.json``: public and read-only, the same bytes for every caller, no tenant data.

Next to the positive control (it serves the document), a hostile caller tries to
get anything else out of it: another tenant's view, a secret, a write.
"""

from __future__ import annotations

import json

from api.clients import ApiClient, Tokens, bearer
from connmgr.api.asyncapi import document_bytes, package_version
from connmgr.schemas.asyncapi import asyncapi_document
from support.seeds import MARKERS, Seed

ROUTE = "/api/asyncapi.json"


async def test_the_document_is_served_without_a_token(client: ApiClient) -> None:
    response = await client.get(ROUTE)

    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == asyncapi_document(package_version())


async def test_every_caller_gets_the_same_bytes_and_no_tenant_data(
    client: ApiClient, seed: Seed, tokens: Tokens
) -> None:
    mine = await seed.connection(secret_fields=["password"])
    theirs = await seed.connection(tenant="globex")
    await seed.history(mine)
    await seed.history(theirs, tenant="globex")
    bodies = set()
    for token in (None, tokens.acme, tokens.globex, tokens.metrics, "cm_wrong-3f9a1c7e5b2d"):
        response = await client.get(ROUTE, headers=bearer(token) if token else None)
        assert response.status == 200
        bodies.add(await response.read())

    assert bodies == {document_bytes()}
    text = document_bytes().decode()
    for value in (mine, theirs, "globex", tokens.acme, tokens.globex, *MARKERS):
        assert value not in text


async def test_the_route_is_read_only(client: ApiClient, tokens: Tokens) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, ROUTE, headers=bearer(tokens.acme), data=b"{}")
        assert response.status == 405, method
    assert json.loads(document_bytes()) == asyncapi_document(package_version())
