"""GET /api/schemas/connections: the JSON Schemas the console's forms are generated from."""

from __future__ import annotations

from typing import Any

import jsonschema

from api.clients import ApiClient
from connmgr.schemas.connection_auth import ALLOWED_METHODS
from connmgr.schemas.json_schema import json_schema, kind_config_schema
from connmgr.schemas.kinds import Kind


async def document(client: ApiClient) -> Any:
    response = await client.get("/api/schemas/connections")
    assert response.status == 200
    return await response.json()


async def test_every_kind_has_its_config_schema_and_the_auth_methods_it_allows(
    client: ApiClient,
) -> None:
    forms = await document(client)

    assert set(forms["kinds"]) == {kind.value for kind in Kind}
    for kind in Kind:
        entry = forms["kinds"][kind.value]
        assert entry["config"] == kind_config_schema(kind)  # the one generator's output
        assert set(entry["auth_methods"]) == ALLOWED_METHODS[kind]
    postgres = forms["kinds"]["postgres"]["auth_methods"]
    assert postgres["basic"] == {"required": ["password"], "optional": []}
    assert forms["kinds"]["webhook"]["auth_methods"]["none"]["optional"] == ["signing_secret"]
    assert forms["kinds"]["http"]["auth_methods"]["custom_headers"]["from_field"] == "header_names"


async def test_the_payload_schema_validates_a_form_and_carries_the_health_check_defaults(
    client: ApiClient,
) -> None:
    forms = await document(client)
    payload = {**forms["payload"], "$defs": forms["$defs"]}
    health = forms["$defs"]["HealthCheckSettings"]["properties"]

    assert payload["properties"] == json_schema("CreatePayload")["properties"]
    assert forms["health_check"] == {"$ref": "#/$defs/HealthCheckSettings"}
    assert health["interval_s"]["default"] == 60
    assert health["enabled"]["default"] is True
    for method, ref in forms["auth_methods"].items():
        assert (
            forms["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["method"]["const"] == method
        )
    form = {
        "name": "orders-db",
        "kind": "postgres",
        "config": {"host": "db.internal", "port": 5432, "database": "orders"},
        "auth": {"method": "basic", "username": "app"},
        "secrets": {"sealed": "AAAA", "key_id": "k1"},
    }
    jsonschema.validate(form, payload)
    bad = {**form, "health_check": {"interval_s": 1}}
    assert list(jsonschema.Draft202012Validator(payload).iter_errors(bad))


async def test_the_forms_need_no_token_and_hold_no_tenant_data(
    client: ApiClient, seed: Any
) -> None:
    await seed.connection(name="acme-secret-name")
    response = await client.get("/api/schemas/connections")
    assert response.status == 200
    assert "acme" not in await response.text()
