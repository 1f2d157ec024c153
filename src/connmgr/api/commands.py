"""``GET /api/commands/{id}``: a command's recorded outcome, for the token's tenant only.

The command gateway answers ``202`` with this route as ``Location`` when an outcome
does not arrive in time. Outcomes are recorded under ``(tenant, command id)``
(docs/decisions.md, "Command ids are unique per tenant, not globally"):
another tenant's command id is answered ``404`` exactly like one not handled
yet or never sent.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from connmgr.api.app_state import ENGINE, GRANT
from connmgr.api.problems import not_found
from connmgr.storage.command_log import find_outcome


async def command_outcome(request: web.Request) -> web.StreamResponse:
    command_id = str(UUID(request.match_info["id"]))
    async with request.app[ENGINE].connect() as connection:
        outcome = await find_outcome(connection, request[GRANT].tenant, command_id)
    if outcome is None:
        raise not_found("command (or not handled yet)")
    headers = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}
    return web.json_response(outcome.model_dump(mode="json"), headers=headers)
