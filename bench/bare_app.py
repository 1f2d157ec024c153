"""The baseline of the read bench: a bare aiohttp app, nothing but a JSON handler.

``python bench/bare_app.py --port P`` serves ``GET /api/connections/{id}`` (the same
paths the API bench requests) with a fixed small JSON document, and ``GET /healthz``.
No middleware, no database, no access log (the API runs without one too).
"""

from __future__ import annotations

import argparse
from typing import Final

from aiohttp import web

HOST: Final = "127.0.0.1"
DOCUMENT: Final = {"id": "bench", "name": "bare", "kind": "postgres", "version": 1}


async def connection(_request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_bare_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/api/connections/{id}", connection)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_bare_app(), host=HOST, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
