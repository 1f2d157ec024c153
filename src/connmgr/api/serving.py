"""Serving the API: a runner whose HTTP protocol answers its own errors as problems.

aiohttp answers a request it cannot read (a request line or header over its limits,
a malformed line, a bad header) before any application code runs, so no middleware
sees it, with a ``text/plain`` body. ``ProblemAppRunner`` serves the application
with a protocol that answers those as ``application/problem+json`` too, with a
fixed sentence per status: never the parser's message, which may quote the bytes
sent (a header value, a token). The log line names the status and the error type
only. Errors inside the application are ``problems.problem_middleware``'s.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Final

import structlog
from aiohttp import web
from aiohttp.web_request import BaseRequest

from connmgr.api.problems import UNREADABLE, Problem, internal_problem, problem_response

_UNREADABLE_DETAIL: Final = (
    "The request could not be read: a line or header too long, or malformed."
)


def protocol_problem(status: int) -> Problem:
    """The problem for an error aiohttp's protocol answers itself (no input echoed)."""
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        return internal_problem()
    phrase = _phrase(status)
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        return Problem(type=UNREADABLE, title=phrase, status=status, detail=_UNREADABLE_DETAIL)
    return Problem(title=phrase, status=status, detail=f"{phrase}.")


class _ProblemProtocol(web.RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: too late for another response
            raise ConnectionError("a response was already sent")
        error_type = None if exc is None else type(exc).__name__
        logger = structlog.get_logger("connmgr.api")
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:  # our code failed: keep the traceback
            logger.error("api.protocol_error", status=status, exc_info=exc)
        else:  # the parser's error may quote what was sent: its type only
            logger.warning("api.unreadable_request", status=status, error_type=error_type)
        response = problem_response(protocol_problem(status))
        response.force_close()
        return response


class _ProblemServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _ProblemProtocol(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer unreadable requests as problems."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _ProblemServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **self._kwargs,
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
