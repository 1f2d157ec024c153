"""GET /api/connections/{id}/versions/{n}: a connection as it was, folded from its log."""

from __future__ import annotations

import uuid

from api.clients import bearer
from gateway_api.conftest import WriteStack
from gateway_api.console_requests import create


async def test_an_earlier_version_is_the_connection_as_it_was_then(stack: WriteStack) -> None:
    await stack.start_pools()
    connection_id, etag = await create(stack)
    path = f"/api/connections/{connection_id}"
    changed = {
        "config": {"host": "db.internal", "port": 5432, "database": "orders_v2", "ssl": "require"}
    }
    update = await stack.client.put(
        path, json=changed, headers={**bearer(stack.writer), "If-Match": etag}
    )
    assert update.status == 200, await update.text()

    first = await stack.client.get(f"{path}/versions/1", headers=bearer(stack.reader))
    second = await stack.client.get(f"{path}/versions/2", headers=bearer(stack.reader))
    now = await (await stack.client.get(path, headers=bearer(stack.reader))).json()

    assert first.status == 200, await first.text()
    was = await first.json()
    assert (was["version"], was["config"]["database"]) == (1, "orders")
    assert now["config"]["database"] == "orders_v2"
    assert was["secret_fields"] == ["password"]
    is_now = await second.json()
    assert {k: v for k, v in is_now.items() if k != "status_since"} == {
        k: v for k, v in now.items() if k != "status_since"
    }


async def test_a_version_never_reached_or_another_tenants_is_404_like_a_missing_one(
    stack: WriteStack,
) -> None:
    await stack.start_pools()
    connection_id, _ = await create(stack)

    later = await stack.client.get(
        f"/api/connections/{connection_id}/versions/9", headers=bearer(stack.reader)
    )
    theirs = await stack.client.get(
        f"/api/connections/{connection_id}/versions/1", headers=bearer(stack.intruder)
    )
    missing = await stack.client.get(
        f"/api/connections/{uuid.uuid4()}/versions/1", headers=bearer(stack.intruder)
    )
    zero = await stack.client.get(
        f"/api/connections/{connection_id}/versions/0", headers=bearer(stack.reader)
    )

    bodies = [await r.json() for r in (later, theirs, missing)]
    assert [r.status for r in (later, theirs, missing, zero)] == [404, 404, 404, 404]
    assert bodies[0] == bodies[1] == bodies[2]
