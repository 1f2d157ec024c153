"""The operator's first run and errors: keys init, token ls, --version, help for every
group, migrate waiting for its database, an empty DLQ, connmgr health; every failure
one line, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime import admin, cli_parser
from connmgr.runtime.cli import build_parser, main
from connmgr.runtime.failures import MissingExtra
from connmgr.runtime.health import HealthState, Verdict
from connmgr.runtime.health_server import ProbeServer, Route, probe_routes, verdict_answer
from connmgr.runtime.keyring_init import run_keys_init
from connmgr.runtime.supervision import PoolStatus
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import hash_token, issue_operator_token, issue_token, revoke_token
from connmgr.workers.keyring import Keyring
from support.databases import POSTGRES_URL_PREFIX, grant_create, postgres_role, postgres_tables
from support.fixture_types import NewPostgresUrl, StartNatsServer


def connmgr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONNMGR_")}
    return subprocess.run(
        [sys.executable, "-m", "connmgr.runtime.cli", *args],
        env={**base, "CONNMGR_LOG_FORMAT": "json", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr
    assert '"exception"' not in result.stderr


# --- keys init ---------------------------------------------------------------------------


async def test_keys_init_writes_a_private_ring_prints_no_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyring.json"
    args = build_parser().parse_args(["keys", "init", "--out", str(path)])
    assert await run_keys_init(Settings(), args) == 0
    printed = capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = Keyring.from_json(path.read_text())
    assert ring.primary in printed
    assert all(key.hex() not in printed for key in ring.keys.values())
    assert path.read_text() not in printed

    before = path.read_text()
    assert await run_keys_init(Settings(), args) == 1
    assert "exists" in capsys.readouterr().err
    assert path.read_text() == before


async def test_keys_init_follows_no_symlink_planted_at_its_path(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (tmp_path / "keyring.json").symlink_to(victim)
    args = build_parser().parse_args(["keys", "init", "--out", str(tmp_path / "keyring.json")])
    assert await run_keys_init(Settings(), args) == 1
    assert victim.read_text() == "untouched"


async def test_keys_init_prints_a_ring_for_a_secret_store_and_nothing_else(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = build_parser().parse_args(["keys", "init", "--print"])
    assert await run_keys_init(Settings(keyring_file=tmp_path / "unused.json"), args) == 0
    ring = Keyring.from_json(capsys.readouterr().out)
    assert ring.primary in ring.keys
    assert not (tmp_path / "unused.json").exists()


async def test_keys_init_writes_the_configured_file_or_asks_for_a_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["keys", "init"])
    assert await run_keys_init(Settings(), args) == 2
    assert "--out PATH or --print" in capsys.readouterr().err
    configured = tmp_path / "ring.json"
    assert await run_keys_init(Settings(keyring_file=configured), args) == 0
    Keyring.from_json(configured.read_text())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["keys", "init", "--print", "--out", "x"])


# --- token ls ----------------------------------------------------------------------------


async def test_token_ls_lists_owners_and_scopes_never_a_token_or_its_hash(
    engine: AsyncEngine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=database_url)
    listing = build_parser().parse_args(["token", "ls"])
    assert await admin.run_token_ls(settings, listing) == 0
    assert capsys.readouterr().out == "no tokens\n"

    alpha = await issue_token(engine, "alpha-reader", "alpha", ["read"])
    beta = await issue_token(engine, "beta-writer", "beta", ["commands:write"])
    scraper = await issue_operator_token(engine, "scraper")
    assert await revoke_token(engine, beta)
    assert await admin.run_token_ls(settings, listing) == 0
    out = capsys.readouterr().out
    assert "alpha-reader" in out
    assert "connections:read,events:read" in out
    assert "(operator)" in out
    assert "beta-writer" not in out  # revoked: only with --all
    for token in (alpha, beta, scraper):
        assert token not in out
        assert hash_token(token) not in out

    everything = build_parser().parse_args(["token", "ls", "--all"])
    assert await admin.run_token_ls(settings, everything) == 0
    assert "beta-writer" in (out := capsys.readouterr().out)
    assert "revoked" in out
    one_tenant = build_parser().parse_args(["token", "ls", "--tenant", "alpha", "--all"])
    assert await admin.run_token_ls(settings, one_tenant) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # the header and alpha's token
    assert "alpha-reader" in lines[1]


# --- the command line --------------------------------------------------------------------


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"connmgr {cli_parser._version()}"
    assert cli_parser._version() != "unknown"


def _commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands


def test_every_command_and_every_group_has_help() -> None:
    commands = _commands(build_parser())
    helped = {action.dest: action.help for action in commands._choices_actions}
    assert set(helped) == set(commands.choices)
    assert all(helped.values()), [name for name, text in helped.items() if not text]
    for group in ("projection", "audit", "keys", "streams", "token", "dlq", "nats-auth"):
        actions = _commands(commands.choices[group])
        assert all(a.help for a in actions._choices_actions), group


def test_a_missing_server_module_names_the_extra_another_missing_module_is_a_bug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def absent(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(cli_parser, "import_module", lambda _n: absent("asyncpg"))
    with pytest.raises(MissingExtra, match=r"pip install 'connmgr\[server\]'"):
        asyncio_run(cli_parser.lazy("connmgr.runtime.admin:run_migrate"))
    monkeypatch.setattr(cli_parser, "import_module", lambda _n: absent("connmgr.typo"))
    with pytest.raises(ModuleNotFoundError):
        asyncio_run(cli_parser.lazy("connmgr.typo:run"))


def asyncio_run(command: cli_parser.Command) -> int:
    return asyncio.run(command(Settings(), argparse.Namespace()))


# --- migrate waits for its database --------------------------------------------------------


def test_migrate_waits_for_a_database_that_does_not_answer_then_gives_its_reason() -> None:
    url = "postgresql+asyncpg://connmgr:pw-never-printed@127.0.0.1:1/connmgr"
    result = connmgr("migrate", "--wait-s", "4", env={"CONNMGR_DATABASE_URL": url})
    assert result.returncode == 69
    assert_no_traceback(result)
    *tries, last = result.stderr.strip().splitlines()
    events = [json.loads(line) for line in tries]
    assert len(events) >= 2
    assert all(e["event"] == "database_unavailable" and e["level"] == "warning" for e in events)
    assert [e["attempt"] for e in events] == list(range(1, len(events) + 1))
    assert last.startswith("connmgr: migrate: the database did not answer in 4 s (")
    assert "ConnectionRefusedError" in last
    assert "pw-never-printed" not in result.stderr


def test_migrate_stops_at_once_when_the_database_refuses(pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/connmgr_no_such_database"
    result = connmgr("migrate", "--wait-s", "60", env={"CONNMGR_DATABASE_URL": missing})
    assert result.returncode == 1
    assert_no_traceback(result)
    assert result.stderr.strip().splitlines() == [
        "connmgr: migrate: the database refused: InvalidCatalogNameError: database "
        '"connmgr_no_such_database" does not exist'
    ]


async def test_migrate_without_the_right_to_create_pg_trgm_gives_the_reason_changing_nothing(
    fresh_pg_url: NewPostgresUrl,
) -> None:
    """Migration 0012 creates the ``pg_trgm`` extension, which takes CREATE on the
    database (its owner's by default). A role without it gets PostgreSQL's reason, and
    nothing of the schema; granted it, the same command goes through."""
    url = await fresh_pg_url()
    database = url.rsplit("/", 1)[1]
    async with postgres_role(database) as role:
        as_role = url.replace(POSTGRES_URL_PREFIX, f"postgresql+asyncpg://{role}@127.0.0.1:5432/")
        refused = await asyncio.to_thread(connmgr, "migrate", env={"CONNMGR_DATABASE_URL": as_role})
        tables = await postgres_tables(database)
        await grant_create(database, role)
        granted = await asyncio.to_thread(connmgr, "migrate", env={"CONNMGR_DATABASE_URL": as_role})
    assert refused.returncode == 1
    assert_no_traceback(refused)
    assert 'permission denied to create extension "pg_trgm"' in refused.stderr
    assert "Must have CREATE privilege on current database" in refused.stderr
    assert tables == []  # all of the migrations or none
    assert (granted.returncode, granted.stdout) == (0, "schema: up to date\n")


def test_migrate_brings_an_answering_database_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    result = connmgr("migrate", env={"CONNMGR_DATABASE_URL": url})
    assert (result.returncode, result.stdout) == (0, "schema: up to date\n")


# --- the dead-letter queue and an absent broker ---------------------------------------------


async def test_an_empty_dlq_says_so_before_and_after_its_stream_exists(
    nats_server_factory: StartNatsServer,
) -> None:
    server = await nats_server_factory()
    env = {"CONNMGR_NATS_URL": server.url}
    before = connmgr("dlq", "ls", env=env)
    assert (before.returncode, before.stdout) == (
        0,
        "no dead letters (CONNMGR_DLQ is not declared yet)\n",
    )
    assert connmgr("streams", "ensure", env=env).returncode == 0
    after = connmgr("dlq", "ls", env=env)
    assert (after.returncode, after.stdout, after.stderr) == (0, "no dead letters\n", "")


def test_an_absent_broker_is_one_line_with_the_password_masked() -> None:
    result = connmgr("dlq", "ls", env={"CONNMGR_NATS_URL": "nats://op:hunter2pw@127.0.0.1:1"})
    assert result.returncode == 69
    assert_no_traceback(result)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("connmgr: dlq ls: NATS at nats://op:")
    assert "hunter2pw" not in result.stderr


# --- connmgr health ------------------------------------------------------------------------


@pytest.fixture
def probe_port() -> Iterator[tuple[HealthState, int, dict[str, Route]]]:
    status = PoolStatus()
    status.running()
    state = HealthState(status, asyncio.Event())
    state.record(Verdict(True))
    routes = probe_routes(state, "tester")
    server = ProbeServer("127.0.0.1", 0, routes)
    server.start()
    assert server.port is not None
    try:
        yield state, server.port, routes
    finally:
        server.stop()


def test_health_exits_0_on_200_and_1_with_the_reason_otherwise(
    probe_port: tuple[HealthState, int, dict[str, Route]],
) -> None:
    state, port, _ = probe_port
    env = {"CONNMGR_HEALTH_PORT": str(port)}
    ready = connmgr("health", env=env)
    assert (ready.returncode, ready.stdout) == (0, f"ok: http://127.0.0.1:{port}/readyz\n")
    state.record(Verdict(False, "nats_disconnected"))
    unready = connmgr("health", env=env)
    assert (unready.returncode, unready.stdout) == (
        1,
        f"unavailable (503): http://127.0.0.1:{port}/readyz: nats_disconnected\n",
    )
    live = connmgr("health", "--live", env=env)
    assert (live.returncode, live.stdout) == (0, f"ok: http://127.0.0.1:{port}/livez\n")
    explicit = connmgr("health", "--url", f"http://127.0.0.1:{port}/livez")
    assert explicit.returncode == 0


def test_health_says_unreachable_and_refuses_other_schemes() -> None:
    down = connmgr("health", env={"CONNMGR_HEALTH_PORT": "1"})
    assert (down.returncode, down.stdout) == (
        1,
        "unreachable: http://127.0.0.1:1/readyz: Connection refused\n",
    )
    local = connmgr("health", "--url", "file:///etc/passwd")
    assert local.returncode == 1
    assert local.stdout == "unusable: file:///etc/passwd: only http and https URLs are probed\n"


def test_health_shows_only_a_printable_bounded_reason(
    probe_port: tuple[HealthState, int, dict[str, Route]],
) -> None:
    _, port, routes = probe_port
    routes["/readyz"] = lambda: verdict_answer(Verdict(False, "x\x1b[31m\nforged line" + "y" * 500))
    result = connmgr("health", env={"CONNMGR_HEALTH_PORT": str(port)})
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert "\x1b" not in line
    assert len(line) < 250


def test_health_loads_neither_the_broker_client_nor_the_command_line() -> None:
    script = (
        "import sys\n"
        "from connmgr.runtime.cli import main\n"
        "code = main(['health', '--url', 'http://127.0.0.1:1/readyz'])\n"
        "heavy = {'nats', 'aiohttp', 'cryptography', 'sqlalchemy', 'connmgr.producers'}\n"
        "print(sorted(heavy & set(sys.modules)), code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "[] 1"
