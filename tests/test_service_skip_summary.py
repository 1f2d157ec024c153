"""A run ends with one line naming each test skipped for a missing service.

Each case runs pytest in a subprocess over a tiny test file whose "service" is a
port nobody listens on, with only the ``support.service_skips`` plugin: a
fixture-level skip (session-scoped, shared by two tests), a skip from a test body,
a passing test and an ordinary ``pytest.skip`` that must not be counted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support.service_skips import SUMMARY_PREFIX
from support.services import REQUIRE_SERVICES_ENV

TESTS = Path(__file__).parent

TINY_SUITE = """
import socket

import pytest

from support.services import service_unavailable

DEAD_PORT = {port}


def dead_service_problem() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", DEAD_PORT), timeout=2).close()
    except OSError as error:
        return f"cannot connect to 127.0.0.1:{{DEAD_PORT}}: {{error!r}}"
    return None


@pytest.fixture(scope="session")
def redis_at_dead_port() -> None:
    problem = dead_service_problem()
    if problem is not None:
        service_unavailable("redis", problem)


def test_first_redis_user(redis_at_dead_port: None) -> None:
    pass


def test_second_redis_user(redis_at_dead_port: None) -> None:
    pass


def test_mariadb_in_the_body() -> None:
    problem = dead_service_problem()
    if problem is not None:
        service_unavailable("mariadb", problem)


def test_needing_nothing() -> None:
    pass


def test_skipped_for_another_reason() -> None:
    pytest.skip("not about a service")
"""


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_tiny_suite(tmp_path: Path, *, require_services: bool) -> list[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_tiny.py").write_text(TINY_SUITE.format(port=dead_port()))
    env = {key: value for key, value in os.environ.items() if key != REQUIRE_SERVICES_ENV}
    if require_services:
        env[REQUIRE_SERVICES_ENV] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "support.service_skips", "-p", "no:randomly"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == (1 if require_services else 0), run.stdout + run.stderr
    return run.stdout.splitlines()


def test_a_bare_run_ends_naming_each_test_skipped_for_a_missing_service(tmp_path: Path) -> None:
    lines = run_tiny_suite(tmp_path, require_services=False)

    assert [line for line in lines if line.startswith(SUMMARY_PREFIX)] == [
        f"{SUMMARY_PREFIX} 3 tests ("
        "mariadb 1: test_tiny.py::test_mariadb_in_the_body; "
        "redis 2: test_tiny.py::test_first_redis_user, test_tiny.py::test_second_redis_user)"
    ], lines
    # the line just before pytest's closing counts, which include the ordinary skip
    assert lines[-2].startswith(SUMMARY_PREFIX), lines
    assert lines[-1].startswith("1 passed, 4 skipped in "), lines


def test_under_required_services_they_fail_and_the_line_says_none(tmp_path: Path) -> None:
    lines = run_tiny_suite(tmp_path, require_services=True)

    assert lines[-2] == f"{SUMMARY_PREFIX} none", lines
    # the fixture's two users error at setup, the body's request fails
    assert lines[-1].startswith("1 failed, 1 passed, 1 skipped, 2 errors in "), lines


def test_the_suite_loads_the_summary_plugin(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("support.service_skips")
