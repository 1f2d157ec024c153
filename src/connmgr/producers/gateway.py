"""The command gateway: the write routes of REST, each one command over the bus.

It is a producer (docs/architecture.md): it imports nothing from storage or the
API package. The runtime glue mounts its ``routes()`` beside the read API with
the ``connections:write`` scope, and hands it ``caller``: the token check's
answer for a request (tenant, token name, token), called only after the scope
check passed. Each route publishes one command for the caller's tenant with the
token's name as actor, over the caller's own gateway connection
(``gateway_links``), and waits up to ``wait_s`` (tests and checks up to
``probes.PROBE_OUTCOME_WAIT_S``) for the outcome (``gateway_answers``).

Secrets arrive sealed only (``gateway_bodies``): the gateway never holds a
plaintext secret. ``GET /api/keys/seal`` serves the key to seal to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from uuid import UUID, uuid4

import structlog
from aiohttp import web
from pydantic import BaseModel

from connmgr.schemas.commands import CreatePayload, DeletePayload, RotatePayload, UpdatePayload
from connmgr.schemas.outcomes import CommandOutcome, Reason
from connmgr.schemas.probe_commands import DraftTestPayload, StoredTestPayload
from connmgr.schemas.sealed import SealKeyInfo

from . import probes
from .building import CommandIntent, Verb
from .errors import InvalidCommand, OutcomeTimeout, ProducerError, SealKeyUnavailable
from .gateway_answers import outcome_answer, pending_answer, problem
from .gateway_bodies import (
    B,
    BodyRefused,
    CreateBody,
    RotateBody,
    UpdateBody,
    expected_version,
    parse_body,
    payload_fields,
)
from .gateway_links import Caller, GatewayLinks

log = structlog.get_logger(__name__)

UUID_PATH: Final = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CONNECTION: Final = f"/api/connections/{{id:{UUID_PATH}}}"
DEFAULT_WAIT_S: Final = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CallerCheck = Callable[[web.Request], Caller]


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


class CommandGateway:
    """The write routes (module doc) over ``links``, for whom ``caller`` says."""

    def __init__(
        self,
        links: GatewayLinks,
        caller: CallerCheck,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        probe_wait_s: float = probes.PROBE_OUTCOME_WAIT_S,
    ) -> None:
        """``wait_s``: the wait for a write's outcome; ``probe_wait_s``: for a test or
        check (long enough for the longest check by default)."""
        self.links = links
        self._caller = caller
        self.wait_s = wait_s
        self.probe_wait_s = probe_wait_s

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

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request, CreateBody)
        if isinstance(body, web.Response):
            return body
        connection_id = body.id or uuid4()
        fields = payload_fields(body, without=frozenset({"id"}))
        intent = CommandIntent("create", CreatePayload, fields, connection_id)
        return await self._send(request, intent, self.wait_s, created=True)

    async def test_draft(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request, CreateBody)
        if isinstance(body, web.Response):
            return body
        fields = {**payload_fields(body, without=frozenset({"id"})), "draft": True}
        intent = CommandIntent("test", DraftTestPayload, fields, body.id or uuid4())
        return await self._send(request, intent, self.probe_wait_s)

    async def update(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request, UpdateBody)
        if isinstance(body, web.Response):
            return body
        return await self._versioned(request, "update", UpdatePayload, payload_fields(body))

    async def rotate(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request, RotateBody)
        if isinstance(body, web.Response):
            return body
        return await self._versioned(request, "rotate", RotatePayload, payload_fields(body))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        return await self._versioned(request, "delete", DeletePayload, {})

    async def test(self, request: web.Request) -> web.StreamResponse:
        intent = CommandIntent("test", StoredTestPayload, {}, _path_id(request))
        return await self._send(request, intent, self.probe_wait_s)

    async def check(self, request: web.Request) -> web.StreamResponse:
        intent = CommandIntent("check", StoredTestPayload, {}, _path_id(request))
        return await self._send(request, intent, self.probe_wait_s)

    async def seal_key(self, request: web.Request) -> web.StreamResponse:
        try:
            link = await self.links.link(self._caller(request))
            key = await link.seal_keys.current()
        except SealKeyUnavailable:
            return _unavailable("no seal key is published: is the encryptor running?")
        except ProducerError:
            return _unavailable("the message broker is not reachable")
        return web.json_response(key.model_dump(mode="json"), headers=_NO_STORE)

    async def _versioned(
        self,
        request: web.Request,
        verb: Verb,
        payload: type[UpdatePayload] | type[RotatePayload] | type[DeletePayload],
        fields: dict[str, object],
    ) -> web.StreamResponse:
        connection_id = _path_id(request)
        try:
            version = expected_version(request.headers.get("If-Match"), connection_id)
        except BodyRefused as refused:
            return problem(422, refused.reason.value, refused.message, refused.errors)
        if version is not None:
            fields = {**fields, "expected_version": version}
        intent = CommandIntent(verb, payload, fields, connection_id)
        return await self._send(request, intent, self.wait_s)

    async def _send(
        self, request: web.Request, intent: CommandIntent, wait_s: float, *, created: bool = False
    ) -> web.StreamResponse:
        caller = self._caller(request)
        try:
            link = await self.links.link(caller)
            outcome = await link.channel.request(intent, wait_s)
        except OutcomeTimeout as timeout:
            return pending_answer(timeout.command_id, timeout.connection_id)
        except InvalidCommand as invalid:
            return problem(
                422, Reason.INVALID_COMMAND.value, "the command is invalid", list(invalid.errors)
            )
        except ProducerError as error:
            log.warning("gateway_unavailable", tenant=caller.tenant, error=type(error).__name__)
            return _unavailable("the message broker did not take the command; retry")
        return outcome_answer(outcome, created=created)


_NO_STORE: Final = {"Cache-Control": "no-store"}


async def _body(request: web.Request, model: type[B]) -> B | web.Response:
    try:
        return parse_body(await request.read(), model)
    except BodyRefused as refused:
        return problem(422, refused.reason.value, refused.message, refused.errors)


def _path_id(request: web.Request) -> UUID:
    return UUID(request.match_info["id"])


def _unavailable(detail: str) -> web.Response:
    return problem(503, "unavailable", detail, headers={"Retry-After": "5"})
