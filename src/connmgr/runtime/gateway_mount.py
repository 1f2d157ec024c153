"""Mounting the command gateway (``producers/gateway.py``) beside the read API.

The glue the layers need: the gateway imports nothing of the API, so it is handed
the API's token check as ``caller`` (the grant the auth middleware stored, and the
bearer token, which is the gateway's broker credential), and each of its routes
becomes an API ``Route`` with scope ``connections:write``: the auth middleware
refuses a read-only token (403) before the gateway runs, and the OpenAPI document
lists the routes with their bodies. ``connmgr api`` mounts it when
``CONNMGR_API_WRITES`` is set (the dev stack sets it); the gateway's broker
connections (to ``CONNMGR_NATS_URL``) close with the application.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api import create_app
from connmgr.api.app_state import GRANT
from connmgr.api.bearer_tokens import bearer_token
from connmgr.api.routing import Route
from connmgr.api.token_cache import TokenCache
from connmgr.producers.gateway import CommandGateway, GatewayRoute
from connmgr.producers.gateway_links import Caller, GatewayLinks
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import SCOPE_CONNECTIONS_WRITE


def caller_of(request: web.Request) -> Caller:
    """Who the request acts for: set by the auth middleware before any write route runs."""
    grant = request[GRANT]
    return Caller(tenant=grant.tenant, actor=grant.name, token=bearer_token(request))


def gateway_routes(gateway: CommandGateway) -> tuple[Route, ...]:
    """The gateway's routes as API routes needing ``connections:write``."""
    return tuple(_api_route(route) for route in gateway.routes())


def api_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    tokens: TokenCache | None = None,
    gateway: CommandGateway | None = None,
) -> web.Application:
    """The API; with the gateway's write routes when ``settings.api_writes`` (or one is
    given: tests pass their own wait), whose connections close with the application."""
    if gateway is None and settings.api_writes:
        gateway = CommandGateway(
            GatewayLinks(settings.nats_url), caller_of, wait_s=settings.gateway_wait_s
        )
    if gateway is None:
        return create_app(settings, engine=engine, tokens=tokens)
    app = create_app(settings, engine=engine, tokens=tokens, extra_routes=gateway_routes(gateway))
    links = gateway.links

    async def close_links(_app: web.Application) -> AsyncIterator[None]:
        yield
        await links.close()

    app.cleanup_ctx.append(close_links)
    return app


def _api_route(route: GatewayRoute) -> Route:
    answers = tuple(status for status in route.statuses if status < 400)
    return Route(
        route.method,
        route.path,
        route.name,
        route.handler,
        route.summary,
        SCOPE_CONNECTIONS_WRITE,
        response=route.response,
        problems=tuple(status for status in route.statuses if status >= 400),
        body=route.body,
        answers=answers,
    )
