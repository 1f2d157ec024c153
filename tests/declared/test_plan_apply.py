"""``plan`` and ``apply`` against the real stack: create, update, conflict, prune, the
exit codes CI reads, and the tenant and source boundaries (each test its own tenant)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from declared_stack import Stack

from connmgr.producers import Producer
from connmgr.producers.cli import CliContext
from connmgr.producers.declared_apply import apply_plan, resolve
from connmgr.producers.declared_plan import make_plan
from connmgr.producers.declared_secrets import SecretSources
from connmgr.producers.declared_state import Existing
from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec
from connmgr.schemas.declared.text import load_declared

PASSWORD = "Cache-pw-7f3a-never-printed"
TOKEN = "Api-token-91c2-never-printed"

FILE = """\
version: 1
source: platform/prod
connections:
  - name: cache
    kind: redis
    config: {host: cache.internal, port: 6379}
    auth: {method: basic, username: app}
    secrets: {password: "env:CAC_CACHE_PASSWORD"}
    tags: [team:orders]
  - name: api
    kind: http
    config: {base_url: "https://api.internal"}
    auth: {method: bearer}
    secrets: {token: "file:api-token"}
    depends_on: [cache]
    health_check: {enabled: false, interval_s: 30}
    description: the orders API
"""


@pytest.fixture(autouse=True)
def secrets_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAC_CACHE_PASSWORD", PASSWORD)
    (tmp_path / "api-token").write_text(TOKEN + "\n")


def write(tmp_path: Path, text: str, name: str = "connections.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def by_name(existing: list[Existing]) -> dict[str, Existing]:
    return {connection.name: connection for connection in existing}


async def test_a_file_is_created_then_applying_it_again_changes_nothing(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx, path = await stack.tenant(), write(tmp_path, FILE)

    assert await stack.run(ctx, "plan", "-f", path) == 2
    planned = capsys.readouterr().out
    assert "+ create cache (redis)" in planned
    assert "+ create api (http)" in planned
    assert await stack.existing(ctx) == []  # plan changes nothing

    assert await stack.run(ctx, "apply", "-f", path, "--yes") == 2
    applied = capsys.readouterr().out
    assert "created cache (version 1)" in applied
    found = by_name(await stack.existing(ctx))
    assert found["cache"].tags == ("team:orders", "managed-by:platform/prod")
    assert found["cache"].secret_fields == ("password",)
    assert found["api"].health_check["depends_on"] == [found["cache"].id]
    assert found["api"].description == "the orders API"

    assert await stack.run(ctx, "plan", "-f", path) == 0
    assert await stack.run(ctx, "apply", "-f", path, "--yes") == 0
    output = capsys.readouterr()
    assert "plan: no changes" in output.out
    assert PASSWORD not in output.out + output.err + applied + planned
    assert TOKEN not in output.out + output.err + applied + planned


async def test_an_update_is_shown_field_by_field_and_applied_on_its_version(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = await stack.tenant()
    assert await stack.run(ctx, "apply", "-f", write(tmp_path, FILE), "--yes") == 2
    changed = FILE.replace("port: 6379", "port: 6380").replace("team:orders", "team:shop")
    path = write(tmp_path, changed, "changed.yaml")
    capsys.readouterr()

    assert await stack.run(ctx, "plan", "-f", path) == 2
    planned = capsys.readouterr().out
    assert "~ update cache (version 1)" in planned
    assert "    config.port: 6379 -> 6380" in planned
    assert '    tags: ["team:orders", "managed-by:platform/prod"] -> ' in planned
    assert "    secrets: sent again" in planned  # a new port moves the password
    assert "api" not in planned

    assert await stack.run(ctx, "apply", "-f", path, "--yes") == 2
    cache = by_name(await stack.existing(ctx))["cache"]
    assert (cache.config["port"], cache.version) == (6380, 2)
    assert cache.own_tags == ("team:shop",)
    assert await stack.run(ctx, "plan", "-f", path) == 0


async def test_a_connection_changed_since_the_plan_is_a_conflict_never_overwritten(
    stack: Stack, tmp_path: Path
) -> None:
    ctx = await stack.tenant()
    assert await stack.run(ctx, "apply", "-f", write(tmp_path, FILE), "--yes") == 2
    declared = load_declared(FILE.replace("the orders API", "from the file"))
    plan = make_plan(declared, await stack.existing(ctx))
    assert [u.existing.name for u in plan.updates] == ["api"]
    sendable = resolve(plan, SecretSources({}, tmp_path))

    async with await producer(ctx) as client:
        api = by_name(await stack.existing(ctx))["api"]
        meanwhile = ConnectionChanges(description="changed by hand")
        assert (await client.update(api.id, meanwhile)).outcome == "accepted"
        applied = await apply_plan(plan, sendable, client)

    assert (applied.changed, applied.failed) == (0, 1)
    assert applied.lines == [
        "conflict: api was changed since the plan (version 1); not overwritten (version_conflict)"
    ]
    assert by_name(await stack.existing(ctx))["api"].description == "changed by hand"


async def test_prune_deletes_only_what_this_source_manages(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = await stack.tenant()
    assert await stack.run(ctx, "apply", "-f", write(tmp_path, FILE), "--yes") == 2
    other = "version: 1\nsource: team/other\nconnections:\n"
    other += "  - {name: other-db, kind: tcp, config: {host: o.internal, port: 5}}\n"
    assert await stack.run(ctx, "apply", "-f", write(tmp_path, other, "o.yaml"), "--yes") == 2
    async with await producer(ctx) as client:
        manual = ConnectionSpec(
            name="by-hand", kind="tcp", config={"host": "h.internal", "port": 7}
        )
        assert (await client.create(manual)).outcome == "accepted"
    smaller = FILE[: FILE.index("  - name: api")]
    path = write(tmp_path, smaller, "smaller.yaml")
    capsys.readouterr()

    assert await stack.run(ctx, "plan", "-f", path) == 0  # without --prune: kept, said so
    assert "kept (managed by platform/prod, not in the file; --prune deletes): api" in (
        capsys.readouterr().out
    )
    assert await stack.run(ctx, "plan", "-f", path, "--prune") == 2
    planned = capsys.readouterr().out
    assert "- delete api (version 1)" in planned
    assert "other-db" not in planned
    assert "by-hand" not in planned

    assert await stack.run(ctx, "apply", "-f", path, "--prune", "--yes") == 2
    assert sorted(by_name(await stack.existing(ctx))) == ["by-hand", "cache", "other-db"]


async def test_a_name_held_unmanaged_or_by_another_source_stops_the_plan(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = await stack.tenant()
    async with await producer(ctx) as client:
        cache = ConnectionSpec(name="cache", kind="tcp", config={"host": "h.internal", "port": 7})
        assert (await client.create(cache)).outcome == "accepted"
    path = write(tmp_path, FILE)

    assert await stack.run(ctx, "apply", "-f", path, "--yes") == 1
    assert "! cache: exists and is not managed by this file (--adopt takes it)" in (
        capsys.readouterr().out
    )
    assert [c.name for c in await stack.existing(ctx)] == ["cache"]  # nothing was sent

    assert await stack.run(ctx, "apply", "-f", path, "--adopt", "--yes") == 2
    adopted = by_name(await stack.existing(ctx))["cache"]
    assert (adopted.kind, adopted.managers) == ("redis", frozenset({"platform/prod"}))
    elsewhere = FILE.replace("source: platform/prod", "source: team/other")
    assert await stack.run(ctx, "plan", "-f", write(tmp_path, elsewhere, "e.yaml"), "--adopt") == 1
    assert "! cache: managed by another source (platform/prod); not changed" in (
        capsys.readouterr().out
    )


async def test_another_tenants_connections_are_never_read_changed_or_pruned(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, theirs = await stack.tenant(), await stack.tenant()
    path = write(tmp_path, FILE)
    assert await stack.run(theirs, "apply", "-f", path, "--yes") == 2  # positive control
    before = await stack.existing(theirs)

    assert await stack.run(mine, "plan", "-f", path, "--prune") == 2  # their names: creates here
    assert "+ create cache (redis)" in capsys.readouterr().out
    empty = write(tmp_path, "version: 1\nsource: platform/prod\nconnections: []\n", "e.yaml")
    assert await stack.run(mine, "apply", "-f", empty, "--prune", "--yes") == 0
    assert await stack.existing(theirs) == before

    assert await stack.run(mine, "export", "--source", "platform/prod") == 0
    assert "connections: []" in capsys.readouterr().out
    crossed = CliContext(**{**vars_of(mine), "api_token": theirs.api_token})
    assert await stack.run(crossed, "plan", "-f", path) == 1
    assert f"the API token is not for tenant {mine.tenant}" in capsys.readouterr().err


async def test_a_bad_file_or_a_missing_secret_is_an_error_and_sends_nothing(
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = await stack.tenant()
    literal = FILE.replace('"env:CAC_CACHE_PASSWORD"', "hunter2-literal")
    assert await stack.run(ctx, "plan", "-f", write(tmp_path, literal, "bad.yaml")) == 1
    error = capsys.readouterr().err
    assert "connections[0].secrets.password" in error
    assert "hunter2-literal" not in error
    with pytest.raises(SystemExit) as refused:
        await stack.run(ctx, "plan", "--file")
    assert refused.value.code == 1  # a refused command line is 1, never 2 ("changes")

    monkeypatch.delenv("CAC_CACHE_PASSWORD")
    assert await stack.run(ctx, "apply", "-f", write(tmp_path, FILE), "--yes") == 1
    assert "cache: secrets.password: the variable CAC_CACHE_PASSWORD is not set" in (
        capsys.readouterr().err
    )
    assert await stack.existing(ctx) == []


async def test_apply_test_runs_a_draft_test_first_and_stops_on_a_failure(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = await stack.tenant()
    with listening_port() as open_port, closed_port() as shut:
        reachable = f"    config: {{host: 127.0.0.1, port: {open_port}}}\n"
        good = "version: 1\nconnections:\n  - name: up\n    kind: tcp\n" + reachable
        assert await stack.run(ctx, "apply", "-f", write(tmp_path, good), "--test", "--yes") == 2
        bad = good.replace(str(open_port), str(shut)).replace("name: up", "name: down")
        bad_path = write(tmp_path, good + bad[bad.index("  - name") :], "bad.yaml")
        capsys.readouterr()

        assert await stack.run(ctx, "apply", "-f", bad_path, "--test", "--yes") == 1

    assert "test failed: down: " in capsys.readouterr().err
    assert [c.name for c in await stack.existing(ctx)] == ["up"]


async def producer(ctx: CliContext) -> Producer:
    return await Producer.connect(ctx.nats_url, tenant=ctx.tenant, actor_id="someone-else")


def vars_of(ctx: CliContext) -> dict[str, object]:
    return {name: getattr(ctx, name) for name in ctx.__dataclass_fields__}


@contextlib.contextmanager
def listening_port() -> Iterator[int]:
    """A port that accepts TCP connections while the block runs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound, never listening, so no one else takes it)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


async def test_apply_without_yes_off_a_terminal_sends_nothing(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = await stack.tenant()

    assert await stack.run(ctx, "apply", "-f", write(tmp_path, FILE)) == 1

    assert "apply needs --yes when standard input is not a terminal" in capsys.readouterr().err
    assert await stack.existing(ctx) == []
