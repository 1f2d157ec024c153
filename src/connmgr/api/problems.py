"""RFC 9457 problem details: every error the API returns is ``application/problem+json``.

A problem never carries a stack trace, a driver message or an input value: unexpected
exceptions become a generic 500 and are logged (with their traceback) server-side.
A database that cannot be reached right now (``database_unavailable``: a connection the
server dropped, a refused connect, a timeout) is a 503 with ``Retry-After``, logged
with the error's type only.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from connmgr.api.routing import Handler
from connmgr.schemas.outcomes import FieldError

MEDIA_TYPE: Final = "application/problem+json"
PREFIX: Final = "urn:connmgr:problem:"
INVALID_PARAMETERS: Final = PREFIX + "invalid-parameters"
UNAUTHORIZED: Final = PREFIX + "unauthorized"
FORBIDDEN: Final = PREFIX + "forbidden"
NOT_FOUND: Final = PREFIX + "not-found"
UNAVAILABLE: Final = PREFIX + "unavailable"
INTERNAL: Final = PREFIX + "internal"
UNREADABLE: Final = PREFIX + "unreadable-request"
_KEPT_HEADERS: Final = ("Allow", "WWW-Authenticate")
RETRY_AFTER_S: Final = 5
_UNREACHABLE: Final = (ConnectionError, TimeoutError, socket.gaierror, PoolTimeoutError)


def _logger() -> structlog.typing.FilteringBoundLogger:
    # Looked up per use, not at import: it follows the configuration current at the time.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("connmgr.api")
    return logger


class Problem(BaseModel):
    """The problem document; ``errors`` lists field errors of a validation problem."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    reason: str | None = None
    """A write's rejection: the command outcome's reason code (``schemas/outcomes.py``)."""
    command_id: str | None = None
    """A write's rejection: the command it was, for ``GET /api/commands/{id}``."""


class ProblemError(Exception):
    """Raise anywhere under a handler to answer with this problem."""

    def __init__(self, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.headers = dict(headers or {})


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        text=problem.model_dump_json(exclude_none=True),
        headers={**(headers or {}), "Content-Type": MEDIA_TYPE},
    )


def invalid_parameters(errors: Iterable[FieldError]) -> ProblemError:
    problem = Problem(
        type=INVALID_PARAMETERS,
        title="Invalid request parameters",
        status=400,
        detail="One or more parameters are invalid; see errors.",
        errors=list(errors),
    )
    return ProblemError(problem)


def not_found(what: str = "resource") -> ProblemError:
    detail = f"No such {what}."
    return ProblemError(Problem(type=NOT_FOUND, title="Not found", status=404, detail=detail))


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached now (a retry may succeed).

    A statement on a connection the server dropped (SQLAlchemy then invalidates it and
    the pool's older connections), a refused or failed connect, a timeout. A statement
    the database refuses (a missing table, bad SQL) is not: that stays a 500.
    """
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    return isinstance(error, _UNREACHABLE)


def unavailable() -> ProblemError:
    detail = "The database is not reachable."
    problem = Problem(type=UNAVAILABLE, title="Service unavailable", status=503, detail=detail)
    return ProblemError(problem, {"Retry-After": str(RETRY_AFTER_S)})


def problem_middleware() -> Middleware:
    """Error boundary (inside metrics): ProblemError, HTTP errors, crashes become problems."""

    @web.middleware
    async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ProblemError as error:
            return problem_response(error.problem, error.headers)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            return _http_problem(error)
        except Exception as error:
            route = request.match_info.route.name
            if database_unavailable(error):
                kind = type(error).__name__
                _logger().warning("api.database_unavailable", route=route, error_type=kind)
                unreachable = unavailable()
                return problem_response(unreachable.problem, unreachable.headers)
            _logger().exception("api.unhandled_error", route=route, method=request.method)
            return problem_response(internal_problem())

    return problems


def _http_problem(error: web.HTTPException) -> web.Response:
    title = error.reason or HTTPStatus.INTERNAL_SERVER_ERROR.phrase
    detail = "No such resource." if error.status == 404 else f"{title}."
    problem_type = NOT_FOUND if error.status == 404 else "about:blank"
    headers = {k: v for k, v in error.headers.items() if k in _KEPT_HEADERS}
    problem = Problem(type=problem_type, title=title, status=error.status, detail=detail)
    return problem_response(problem, headers)


def internal_problem() -> Problem:
    return Problem(
        type=INTERNAL,
        title="Internal server error",
        status=500,
        detail="The server could not complete the request; it has been logged.",
    )
