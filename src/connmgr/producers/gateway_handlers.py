"""The request handlers of the command gateway (``gateway.py``), a method each.

``GatewayHandlers`` turns one request into one command for the caller's tenant, sent
over the caller's gateway connection (``gateway_links``), and the outcome, or its
absence within the wait, into the answer (``gateway_answers``). A body is read and
checked first (``gateway_bodies``); ``seal_key`` serves the key secrets are sealed
to. ``CommandGateway`` extends it with the route table that mounts these handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final
from uuid import UUID, uuid4

import structlog
from aiohttp import web

from connmgr.schemas.commands import CreatePayload, DeletePayload, RotatePayload, UpdatePayload
from connmgr.schemas.outcomes import Reason
from connmgr.schemas.probe_commands import DraftTestPayload, StoredTestPayload

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

log = structlog.get_logger("connmgr.producers.gateway")

DEFAULT_WAIT_S: Final = 10.0

CallerCheck = Callable[[web.Request], Caller]


class GatewayHandlers:
    """The handlers of the write routes over ``links``, for whom ``caller`` says
    (module doc); ``CommandGateway`` adds the routes."""

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
