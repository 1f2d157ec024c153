"""Fixtures of the egress tests.

- ``serve``: ``await serve(app)`` -> the base URL of an aiohttp server on
  ``127.0.0.1``; all stop after the test.
- ``logs``: ``logs()`` -> every log line so far (logging and structlog) as text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import structlog
from aiohttp import web
from egress_peers import Serve
from yarl import URL


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> URL:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return URL.build(scheme="http", host="127.0.0.1", port=runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    caplog.set_level("DEBUG")
    with structlog.testing.capture_logs() as events:
        yield lambda: [caplog.text, *map(repr, events)]
