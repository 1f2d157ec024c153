"""The command gateway's write routes, end to end: HTTP → NATS → the real pools → HTTP.

Each route is tried as it works, and against another tenant, a read-only token
and a plaintext secret (README.md, "Writes (the command gateway)").
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.clients import bearer
from connmgr.schemas.sealed import seal_secrets
from gateway_api.conftest import WriteStack
from gateway_api.console_requests import PASSWORD, create, draft, seal_key, sealed_for
from support.leaks import LeakChannels
from support.waiting import wait_for


async def test_a_sealed_create_is_stored_and_read_back_without_its_secret(
    stack: WriteStack, leak_channels: LeakChannels
) -> None:
    await stack.start_pools()
    connection_id = str(uuid.uuid4())
    secrets = await sealed_for(stack, connection_id, PASSWORD)

    response = await stack.client.post(
        "/api/connections",
        json=draft(id=connection_id, secrets=secrets),
        headers=bearer(stack.writer),
    )
    outcome = await response.json()

    assert response.status == 201, outcome
    assert response.headers["Location"] == f"/api/connections/{connection_id}"
    assert response.headers["ETag"] == f'"{connection_id}.v1"'
    assert (outcome["outcome"], outcome["version"]) == ("accepted", 1)
    read = await stack.client.get(f"/api/connections/{connection_id}", headers=bearer(stack.reader))
    view = await read.json()
    assert read.headers["ETag"] == response.headers["ETag"]  # the If-Match of the next write
    assert view["secret_fields"] == ["password"]
    health = view["health_check"]  # on by default: a saved connection gets a status
    assert (health["enabled"], health["interval_s"]) == (True, 60)
    logs = await stack.client.get(
        f"/api/connections/{connection_id}/logs", headers=bearer(stack.reader)
    )
    (created,) = (await logs.json())["items"]
    assert "acme-console" in str(created["metadata"])  # the token's name is the actor
    leak_channels.secrets(PASSWORD)
    leak_channels.add("responses", [outcome, view, await logs.text()])
    leak_channels.assert_clean()


async def test_plaintext_secrets_are_refused_naming_the_field_never_echoed(
    stack: WriteStack, leak_channels: LeakChannels
) -> None:
    await stack.start_pools()
    connection_id, etag = await create(stack)
    attempts = [
        ("POST", "/api/connections", draft(secrets={"plaintext": {"password": PASSWORD}})),
        ("POST", "/api/connections/test", draft(secrets={"plaintext": {"password": PASSWORD}})),
        (
            "PUT",
            f"/api/connections/{connection_id}",
            {"secrets": {"plaintext": {"password": PASSWORD}}},
        ),
        (
            "POST",
            f"/api/connections/{connection_id}/rotate",
            {"secrets": {"plaintext": {"password": PASSWORD}}},
        ),
    ]
    texts = []
    for method, path, body in attempts:
        response = await stack.client.request(
            method, path, json=body, headers={**bearer(stack.writer), "If-Match": etag}
        )
        problem = await response.json()
        texts.append(await response.text())
        assert response.status == 422, (path, problem)
        assert response.content_type == "application/problem+json"
        assert problem["reason"] == "plaintext_not_allowed"
        assert [error["field"] for error in problem["errors"]] == ["secrets.plaintext"]
    read = await stack.client.get(f"/api/connections/{connection_id}", headers=bearer(stack.reader))
    assert read.headers["ETag"] == etag  # nothing was published
    leak_channels.secrets(PASSWORD)
    leak_channels.add("problems", texts)
    leak_channels.assert_clean()


async def test_update_with_if_match_and_a_stale_one_is_a_409_conflict(stack: WriteStack) -> None:
    await stack.start_pools()
    connection_id, etag = await create(stack)
    path = f"/api/connections/{connection_id}"

    first = await stack.client.put(
        path, json={"description": "primary"}, headers={**bearer(stack.writer), "If-Match": etag}
    )
    stale = await stack.client.put(
        path, json={"description": "late"}, headers={**bearer(stack.writer), "If-Match": etag}
    )

    assert first.status == 200, await first.text()
    assert first.headers["ETag"] == f'"{connection_id}.v2"'
    problem = await stale.json()
    assert stale.status == 409, problem
    assert problem["reason"] == "version_conflict"
    view = await (await stack.client.get(path, headers=bearer(stack.reader))).json()
    assert (view["version"], view["description"]) == (2, "primary")


async def test_an_if_match_of_another_connection_is_refused_before_publishing(
    stack: WriteStack,
) -> None:
    await stack.start_pools()
    connection_id, _ = await create(stack)
    other_id, other_etag = await create(stack, "other-db")

    response = await stack.client.delete(
        f"/api/connections/{connection_id}",
        headers={**bearer(stack.writer), "If-Match": other_etag},
    )

    problem = await response.json()
    assert response.status == 422, problem
    assert problem["errors"][0]["field"] == "If-Match"
    assert other_id not in problem["detail"]


async def test_rotate_test_check_and_delete_each_answer_their_outcome(stack: WriteStack) -> None:
    await stack.start_pools()
    connection_id, etag = await create(stack)
    path = f"/api/connections/{connection_id}"
    headers = bearer(stack.writer)

    rotated = await stack.client.post(
        f"{path}/rotate",
        json={"secrets": await sealed_for(stack, connection_id, "rotated-pw")},
        headers={**headers, "If-Match": etag},
    )
    tested = await stack.client.post(f"{path}/test", headers=headers)
    checked = await stack.client.post(f"{path}/health-check", headers=headers)
    deleted = await stack.client.delete(path, headers=headers)

    assert rotated.status == 200, await rotated.text()
    assert (await rotated.json())["events"] == ["SecretsRotated"]
    for response in (tested, checked):
        outcome = await response.json()
        assert response.status == 200, outcome
        assert outcome["outcome"] == "accepted"
        assert outcome["result"]["outcome"] == "dns_error", outcome  # db.internal: no such host
        assert "resolve" in outcome["result"]["phases"]
    assert deleted.status == 200, await deleted.text()
    assert (await deleted.json())["events"] == ["ConnectionDeleted"]
    gone = await stack.client.get(path, headers=bearer(stack.reader))
    assert gone.status == 404


async def test_a_draft_test_stores_nothing(stack: WriteStack) -> None:
    await stack.start_pools()
    draft_id = str(uuid.uuid4())
    secrets = await sealed_for(stack, draft_id, PASSWORD)

    response = await stack.client.post(
        "/api/connections/test",
        json=draft(
            id=draft_id,
            secrets=secrets,
            config={"host": "127.0.0.1", "port": 1, "database": "orders"},
        ),
        headers=bearer(stack.writer),
    )

    outcome = await response.json()
    assert response.status == 200, outcome
    assert outcome["result"]["outcome"] == "unreachable"  # nothing listens on port 1
    assert "connect" in outcome["result"]["phases"]
    stored = await stack.client.get(f"/api/connections/{draft_id}", headers=bearer(stack.reader))
    assert stored.status == 404


async def test_invalid_fields_are_a_422_problem_with_field_errors(stack: WriteStack) -> None:
    await stack.start_pools()
    response = await stack.client.post(
        "/api/connections",
        json=draft(config={"host": "db.internal", "port": "not-a-port"}),
        headers=bearer(stack.writer),
    )
    problem = await response.json()
    assert response.status == 422, problem
    assert problem["reason"] == "invalid_config"
    assert "config.port" in [error["field"] for error in problem["errors"]], problem


@pytest.mark.parametrize("gateway_wait_s", [0.3])
async def test_without_an_outcome_in_time_a_202_points_at_the_command(
    stack: WriteStack,
) -> None:
    """The pools are down: the command is stored, the answer is 202 with its Location."""
    connection_id = str(uuid.uuid4())
    response = await stack.client.post(
        "/api/connections",
        json=draft(id=connection_id, auth={"method": "none"}),
        headers=bearer(stack.writer),
    )
    pending = await response.json()
    assert response.status == 202, pending
    location = response.headers["Location"]
    assert location == f"/api/commands/{pending['command_id']}"
    assert pending["connection_id"] == connection_id
    not_yet = await stack.client.get(location, headers=bearer(stack.writer))
    assert not_yet.status == 404

    await stack.start_pools()

    async def handled() -> Any:
        answer = await stack.client.get(location, headers=bearer(stack.writer))
        return await answer.json() if answer.status == 200 else None

    outcome = await wait_for(handled, timeout=20)
    assert (outcome["outcome"], outcome["connection_id"]) == ("accepted", connection_id)
    foreign = await stack.client.get(location, headers=bearer(stack.intruder))
    missing = await stack.client.get(
        f"/api/commands/{uuid.uuid4()}", headers=bearer(stack.intruder)
    )
    assert (foreign.status, await foreign.json()) == (missing.status, await missing.json())
    assert foreign.status == 404


async def test_another_tenants_connection_is_404_like_a_missing_one(stack: WriteStack) -> None:
    await stack.start_pools()
    connection_id, etag = await create(stack)
    key = await seal_key(stack)

    def attempts(target: str) -> list[tuple[str, str, dict[str, Any] | None]]:
        rotate = {"sealed": seal_secrets({"password": "x"}, key, target), "key_id": key.key_id}
        return [
            ("PUT", f"/api/connections/{target}", {"description": "mine now"}),
            ("POST", f"/api/connections/{target}/rotate", {"secrets": rotate}),
            ("POST", f"/api/connections/{target}/test", None),
            ("POST", f"/api/connections/{target}/health-check", None),
            ("DELETE", f"/api/connections/{target}", None),
        ]

    missing_id = str(uuid.uuid4())
    for theirs, missing in zip(attempts(connection_id), attempts(missing_id), strict=True):
        answers = []
        for method, path, body in (theirs, missing):
            response = await stack.client.request(
                method, path, json=body, headers=bearer(stack.intruder)
            )
            document = await response.json()
            document.pop("command_id", None)
            answers.append((response.status, _without_ids(document, path.split("/")[3])))
        assert answers[0] == answers[1], theirs
        assert answers[0][0] == 404
    read = await stack.client.get(f"/api/connections/{connection_id}", headers=bearer(stack.reader))
    assert read.headers["ETag"] == etag


async def test_an_id_taken_by_another_tenant_is_the_same_answer_as_ones_own(
    stack: WriteStack,
) -> None:
    await stack.start_pools()
    connection_id, _ = await create(stack)

    answers = []
    for token in (stack.intruder, stack.writer):
        response = await stack.client.post(
            "/api/connections",
            json=draft(id=connection_id, auth={"method": "none"}),
            headers=bearer(token),
        )
        document = await response.json()
        answers.append((response.status, document["reason"], document["detail"]))

    assert answers[0] == answers[1]
    assert answers[0][:2] == (409, "id_unavailable")


WRITE_ROUTES = [
    ("POST", "/api/connections"),
    ("POST", "/api/connections/test"),
    ("PUT", "/api/connections/{id}"),
    ("DELETE", "/api/connections/{id}"),
    ("POST", "/api/connections/{id}/rotate"),
    ("POST", "/api/connections/{id}/test"),
    ("POST", "/api/connections/{id}/health-check"),
    ("GET", "/api/keys/seal"),
]


async def test_a_read_only_token_cannot_write(stack: WriteStack) -> None:
    for method, path in WRITE_ROUTES:
        target = path.format(id=uuid.uuid4())
        response = await stack.client.request(
            method, target, json=draft(), headers=bearer(stack.reader)
        )
        problem = await response.json()
        assert response.status == 403, (path, problem)
        assert "connections:write" in response.headers["WWW-Authenticate"]
        anonymous = await stack.client.request(method, target, json=draft())
        assert anonymous.status == 401, path


async def test_the_openapi_document_lists_every_write_route_with_its_body(
    stack: WriteStack,
) -> None:
    document = await (await stack.client.get("/api/openapi.json")).json()
    paths = document["paths"]
    one = "/api/connections/{id}"

    assert paths["/api/connections"]["post"]["requestBody"]
    assert {"201", "202", "409", "422"} <= set(paths["/api/connections"]["post"]["responses"])
    assert paths[one]["put"]["security"] == [{"bearer": ["connections:write"]}]
    assert {"put", "delete", "get"} <= set(paths[one])
    for tail in ("rotate", "test", "health-check"):
        assert "post" in paths[f"{one}/{tail}"]
    assert "post" in paths["/api/connections/test"]
    assert "get" in paths["/api/keys/seal"]
    assert "get" in paths["/api/commands/{id}"]
    body = document["components"]["schemas"]["CreateBody"]
    assert "plaintext" not in str(body)  # sealed secrets only


def _without_ids(document: dict[str, Any], connection_id: str) -> str:
    return str(document).replace(connection_id, "<id>")
