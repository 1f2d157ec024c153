"""Bearer-token authentication and scope checks, decided per route by the route table.

- a public route (``scope`` None) needs no token;
- no token, a malformed header, or an unknown or revoked token → 401 problem with a
  ``WWW-Authenticate: Bearer`` challenge;
- a valid token without the route's scope → 403 problem;
- otherwise the grant is stored at ``request[GRANT]``; handlers read its tenant and
  never see another tenant's data (they answer 404 for it, like for a missing row).

Grants come from the application's ``TokenCache``: a revoked token is refused at
most ``TOKEN_CACHE_TTL_S`` seconds after its revocation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from connmgr.api.app_state import ENGINE, GRANT, TOKENS
from connmgr.api.problems import FORBIDDEN, UNAUTHORIZED, Problem, ProblemError
from connmgr.api.routing import Handler, Route

_REALM: Final = 'Bearer realm="connmgr"'


def auth_middleware(routes: Iterable[Route]) -> Middleware:
    """Check the bearer token against the scope each named route requires."""
    scopes = {route.name: route.scope for route in routes}

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        scope = scopes.get(request.match_info.route.name or "")
        if scope is None:
            return await handler(request)
        token = bearer_token(request)
        grant = await request.app[TOKENS].resolve(request.app[ENGINE], token)
        if grant is None:
            raise _unauthorized("The bearer token is not valid.", 'error="invalid_token"')
        if not grant.allows(scope):
            raise _forbidden(scope)
        request[GRANT] = grant
        return await handler(request)

    return authenticate


def bearer_token(request: web.Request) -> str:
    """The request's bearer token; a 401 problem without a well-formed one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("This route needs an Authorization: Bearer token.")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(
            "The Authorization header must be: Bearer <token>.", 'error="invalid_request"'
        )
    return token.strip()


def _unauthorized(detail: str, error: str = "") -> ProblemError:
    challenge = f"{_REALM}, {error}" if error else _REALM
    problem = Problem(type=UNAUTHORIZED, title="Unauthorized", status=401, detail=detail)
    return ProblemError(problem, {"WWW-Authenticate": challenge})


def _forbidden(scope: str) -> ProblemError:
    detail = f"The token lacks the scope this route needs: {scope}."
    problem = Problem(type=FORBIDDEN, title="Forbidden", status=403, detail=detail)
    challenge = f'{_REALM}, error="insufficient_scope", scope="{scope}"'
    return ProblemError(problem, {"WWW-Authenticate": challenge})
