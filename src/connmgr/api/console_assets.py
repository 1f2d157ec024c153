"""The browser console: static assets served at ``/`` and ``/console/...`` (docs/console.md).

The console is a client of the public API only: these routes serve files, never data,
and need no token (the page asks for one and keeps it in session storage; see
docs/decisions.md, "Console login"). Every console response carries a
Content-Security-Policy without ``unsafe-inline``: scripts, styles and connections come
from this origin only, nothing may frame the page, and no plugin runs.

Assets are read once per process, from the package data directory ``api/console``,
and served gzip-compressed to clients that accept it. Only files under that directory
with a known extension are served; anything else is a 404 problem like any unknown path.
"""

from __future__ import annotations

import functools
import mimetypes
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from aiohttp import web

CONSOLE_PREFIX: Final = "/console/"
CONSOLE_ROUTE_NAMES: Final = frozenset({"console_index", "console_asset"})
"""The console's routes: files, not API operations, so the OpenAPI document omits them."""
CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_SERVED_TYPES: Final = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@functools.cache
def console_files() -> dict[str, bytes]:
    """Every servable asset by its path under ``/console/`` (read once per process)."""
    root = resources.files("connmgr.api").joinpath("console")
    files: dict[str, bytes] = {}
    _collect(root, "", files)
    return files


def _collect(folder: Traversable, prefix: str, files: dict[str, bytes]) -> None:
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            _collect(entry, f"{name}/", files)
        elif _extension(name) in _SERVED_TYPES:
            files[name] = entry.read_bytes()


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return "" if dot < 0 else name[dot:]


async def console_index(request: web.Request) -> web.StreamResponse:
    """``GET /``: the console's single page."""
    return _asset_response(request, "index.html")


async def console_asset(request: web.Request) -> web.StreamResponse:
    """``GET /console/{path}``: one static asset, or 404."""
    path = request.match_info["path"]
    if path not in console_files():
        raise web.HTTPNotFound()
    return _asset_response(request, path)


def _asset_response(request: web.Request, path: str) -> web.StreamResponse:
    content_type = _SERVED_TYPES.get(_extension(path)) or mimetypes.guess_type(path)[0]
    response = web.Response(
        body=console_files()[path], content_type=content_type, headers=SECURITY_HEADERS
    )
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression(web.ContentCoding.gzip)
    return response


def add_console_routes(router: web.UrlDispatcher) -> None:
    """Mount the console (public routes: the auth middleware skips unnamed scopes)."""
    router.add_get("/", console_index, name="console_index", allow_head=False)
    router.add_get(
        CONSOLE_PREFIX + "{path:[A-Za-z0-9_./-]+}",
        console_asset,
        name="console_asset",
        allow_head=False,
    )
