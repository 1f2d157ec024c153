"""Fixtures shared by every check test folder.

- ``serve`` (function): ``await serve(app, ssl_context=None)`` -> the base URL
  of a started aiohttp server on 127.0.0.1; all stop after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from yarl import URL


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[URL]]]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, ssl_context: object = None) -> URL:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)  # type: ignore[arg-type]
        await site.start()
        port = runner.addresses[0][1]
        return URL.build(scheme="https" if ssl_context else "http", host="127.0.0.1", port=port)

    yield start
    for runner in runners:
        await runner.cleanup()
