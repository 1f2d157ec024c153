"""The command gateway: the write routes of REST, each one command over the bus.

It is a producer (docs/architecture.md): it imports nothing from storage or the
API package. The runtime glue mounts its ``routes()`` beside the read API with
the ``connections:write`` scope, and hands it ``caller``: the token check's
answer for a request (tenant, token name, token), called only after the scope
check passed. Each route (a handler of ``gateway_handlers``) publishes one
command for the caller's tenant with the token's name as actor, over the caller's
own gateway connection (``gateway_links``), and waits up to ``wait_s`` (tests and
checks up to ``probes.PROBE_OUTCOME_WAIT_S``) for the outcome (``gateway_answers``).

Secrets arrive sealed only (``gateway_bodies``): the gateway never holds a
plaintext secret. ``GET /api/keys/seal`` serves the key to seal to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from pydantic import BaseModel

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.schemas.sealed import SealKeyInfo

from .gateway_bodies import CreateBody, RotateBody, UpdateBody
from .gateway_handlers import GatewayHandlers

UUID_PATH: Final = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CONNECTION: Final = f"/api/connections/{{id:{UUID_PATH}}}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class GatewayRoute:
    """One write route, for the runtime glue to mount and document."""

    method: str
    path: str
    name: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = CommandOutcome
    statuses: tuple[int, ...] = (202, 404, 409, 422, 503)
    """Statuses beyond 200: a pending command, the problems of a rejection."""


class CommandGateway(GatewayHandlers):
    """The write routes (module doc) over ``links``, for whom ``caller`` says."""

    def routes(self) -> tuple[GatewayRoute, ...]:
        return (
            GatewayRoute(
                "POST",
                "/api/connections",
                "create_connection",
                self.create,
                "Create a connection (secrets sealed to GET /api/keys/seal).",
                CreateBody,
                statuses=(201, 202, 409, 422, 503),
            ),
            GatewayRoute(
                "POST",
                "/api/connections/test",
                "test_draft",
                self.test_draft,
                "Test a connection before saving it (a draft: nothing is stored).",
                CreateBody,
            ),
            GatewayRoute(
                "PUT",
                _CONNECTION,
                "update_connection",
                self.update,
                "Change the fields given; If-Match (the ETag) guards against lost updates.",
                UpdateBody,
            ),
            GatewayRoute(
                "DELETE",
                _CONNECTION,
                "delete_connection",
                self.delete,
                "Delete a connection: its data key is destroyed, its history stays.",
            ),
            GatewayRoute(
                "POST",
                f"{_CONNECTION}/rotate",
                "rotate_secrets",
                self.rotate,
                "Replace a connection's secrets (all of them, sealed).",
                RotateBody,
            ),
            GatewayRoute(
                "POST",
                f"{_CONNECTION}/test",
                "test_connection",
                self.test,
                "Test the stored connection now; the outcome's result has the phases.",
            ),
            GatewayRoute(
                "POST",
                f"{_CONNECTION}/health-check",
                "check_connection",
                self.check,
                "Run the connection's health check now, as its schedule would.",
            ),
            GatewayRoute(
                "GET",
                "/api/keys/seal",
                "seal_key",
                self.seal_key,
                "The public key secrets are sealed to (HPKE, the suite of the contract).",
                response=SealKeyInfo,
                statuses=(503,),
            ),
        )
