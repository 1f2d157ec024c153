"""Building check targets for the tests, and scanning results for secrets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeAlias

from aiohttp import web
from yarl import URL

from connmgr.schemas.connection_auth import Auth, NoAuth
from connmgr.schemas.kinds import HttpConfig, HttpTestRequest, Kind, WebhookConfig
from connmgr.workers.checks.base import CheckResult, CheckTarget
from support.secret_scan import findings_in

Serve: TypeAlias = Callable[..., Awaitable[URL]]
"""``await serve(app, ssl_context=None)``: the base URL of a started server."""

CONNECTION_ID = "0b9c1f9e-5d8e-4c43-9a57-1d2f3e4a5b6c"


def http_target(
    base_url: URL | str,
    path: str = "/",
    *,
    auth: Auth | None = None,
    secrets: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    test: Mapping[str, Any] | None = None,
    **config: Any,
) -> CheckTarget:
    """An ``http`` target; ``test`` adds fields of the test request beside ``path``."""
    request = HttpTestRequest(path=path, **(test or {}))
    return CheckTarget(
        connection_id=CONNECTION_ID,
        kind=Kind.HTTP,
        config=HttpConfig(base_url=str(base_url), test=request, **config),
        auth=auth or NoAuth(),
        secrets=dict(secrets or {}),
        timeout_s=timeout_s,
    )


def webhook_target(
    url: URL | str,
    *,
    auth: Auth | None = None,
    secrets: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    **config: Any,
) -> CheckTarget:
    return CheckTarget(
        connection_id=CONNECTION_ID,
        kind=Kind.WEBHOOK,
        config=WebhookConfig(url=str(url), **config),
        auth=auth or NoAuth(),
        secrets=dict(secrets or {}),
        timeout_s=timeout_s,
    )


def leaked(result: CheckResult, secrets: Iterable[str], *texts: str) -> list[str]:
    """Masked findings of ``secrets`` in the result's repr, detail, server identity or
    ``texts``, in every form ``support.secret_scan`` knows (encoded, partial, PEM lines)."""
    haystacks = {"result": repr(result), "detail": result.detail, "server": str(result.server)}
    haystacks.update({f"text {number}": text for number, text in enumerate(texts, start=1)})
    return findings_in(secrets, haystacks)


def counting_app(hits: list[str]) -> web.Application:
    """Answers 200 to anything and records each request's path."""

    async def anything(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    return app
