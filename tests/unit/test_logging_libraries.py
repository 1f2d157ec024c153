"""Library loggers stay at WARNING whatever ``CONNMGR_LOG_LEVEL`` says, and are redacted.

At ``debug``, connmgr's own loggers print debug lines (the positive control);
every library logger, even one that set its own level to DEBUG or printed
through a handler of its own, prints only warnings and above, through the one
redacting handler. Python warnings and uncaught exceptions take that route too.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest
import structlog

from connmgr.runtime.logging import REDACTED, configure_logging
from connmgr.schemas.settings import Settings
from support.logging_capture import restored_logging
from support.secret_scan import SecretScanner

LIBRARIES = [
    "redis.asyncio.connection", "aiosqlite", "asyncpg", "aiomysql", "pymongo.command",
    "botocore.endpoint", "aiobotocore", "urllib3.connectionpool", "aiohttp.client", "nats",
    "sqlalchemy.engine.Engine", "asyncio", "faststream",
]  # fmt: skip
SECRET = "hunter2-lib-7d1e"


@pytest.fixture
def misbehaving_libraries() -> Iterator[None]:
    """A library logger set to DEBUG, and one printing through a handler of its own."""
    noisy = logging.getLogger("redis.asyncio.connection")
    chatty = logging.getLogger("aiosqlite")
    own_handler = logging.StreamHandler(sys.stderr)
    with restored_logging():
        noisy.setLevel(logging.DEBUG)  # as a library (or a test harness) may do
        chatty.addHandler(own_handler)
        chatty.propagate = False
        yield
    noisy.setLevel(logging.NOTSET)
    chatty.removeHandler(own_handler)
    chatty.propagate = True


def assert_no_secret(output: str) -> None:
    scanner = SecretScanner()
    scanner.add("secret", SECRET, username="app")
    scanner.assert_clean({"stderr": output})


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("misbehaving_libraries")
def test_library_debug_and_info_lines_are_dropped_and_warnings_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", log_level="debug"))
    structlog.get_logger("connmgr.test").debug("own_structlog_debug")
    logging.getLogger("connmgr.checks").debug("own stdlib debug")
    for name in LIBRARIES:
        library = logging.getLogger(name)
        library.debug("debug %s: AUTH app password=%s", name, SECRET)
        library.info("info %s: row {'password': '%s'}", name, SECRET)
        library.warning("warning %s: url redis://app:%s@cache", name, SECRET)

    output = capsys.readouterr().err
    events = [line["event"] for line in lines(output)]
    assert events[:2] == ["own_structlog_debug", "own stdlib debug"]
    assert events[2:] == [f"warning {name}: url redis://app:{REDACTED}@cache" for name in LIBRARIES]
    assert_no_secret(output)


@pytest.mark.usefixtures("misbehaving_libraries")
def test_python_warnings_and_uncaught_exceptions_are_redacted_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", log_level="debug"))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"retrying with password={SECRET}", UserWarning, stacklevel=1)
    error = ConnectionError(f"WRONGPASS for redis://:{SECRET}@cache")
    sys.excepthook(ConnectionError, error, None)

    output = capsys.readouterr().err
    found = lines(output)
    assert [line["logger"] for line in found] == ["py.warnings", "connmgr.uncaught"]
    assert f"password={REDACTED}" in found[0]["event"]
    assert found[1]["event"] == "uncaught_exception"
    assert_no_secret(output)


async def test_aiosqlite_does_not_dump_statements_and_rows_at_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with restored_logging():
        configure_logging(Settings(log_format="json", log_level="debug"))
        structlog.get_logger("connmgr.storage").debug("own_debug_line")
        async with aiosqlite.connect(":memory:") as database:
            await database.execute("CREATE TABLE events (data TEXT)")
            await database.execute("INSERT INTO events VALUES (?)", (f"sealed {SECRET}",))
            async with database.execute("SELECT data FROM events") as cursor:
                assert await cursor.fetchall() == [(f"sealed {SECRET}",)]

    output = capsys.readouterr().err
    assert [line["event"] for line in lines(output)] == ["own_debug_line"]
    assert_no_secret(output)
