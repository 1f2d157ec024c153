"""``connmgr test`` and ``connmgr check``: the printed result, exit codes, draft secrets."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from cli_runner import parser, run
from producer_fakes import ACTOR, TENANT, FakeTester, probe_result

from connmgr.producers.cli import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CliContext,
)
from connmgr.schemas.outcomes import CommandOutcome, Reason
from support.leaks import LeakChannels

PASSWORD = "pw-" + uuid.uuid4().hex
DRAFT = ["test", "--draft", "--name", "orders-db", "--kind", "postgres", "--username", "app"]
CONFIG = ["--config", "host=db.internal", "--config", "port=5432"]


@pytest.fixture
def ctx(producers_nats_url: str) -> CliContext:
    return CliContext(nats_url=producers_nats_url, tenant=TENANT, actor_id=ACTOR, timeout_s=5.0)


async def test_test_prints_the_result_with_each_phase_in_ms_and_the_server(
    ctx: CliContext, tester: FakeTester, capsys: pytest.CaptureFixture[str]
) -> None:
    connection_id = str(uuid.uuid4())

    code = await run(["test", connection_id], ctx)

    out = capsys.readouterr().out.splitlines()
    assert code == EXIT_OK
    assert out[0] == f"accepted: connection {connection_id} (version 4)"
    start = out.index("result: ok")
    assert out[start : start + 8] == [
        "result: ok",
        "detail: connected and ran the test query",
        "latency: 42.5 ms",
        "  resolve: 1.5 ms",
        "  connect: 3.5 ms",
        "  tls: 12.0 ms",
        "  auth: 20.0 ms",
        "  query: 5.5 ms",
    ]
    assert "server: PostgreSQL 16.4" in out
    assert "tls subject: CN=db.internal" in out
    assert "tls expires: 2027-01-31T00:00:00Z" in out
    assert out[-1] == f"command: {tester.received[0].command.command_id}"


async def test_a_result_other_than_ok_exits_1(
    ctx: CliContext, tester: FakeTester, capsys: pytest.CaptureFixture[str]
) -> None:
    tester.results.append(
        probe_result("auth_failed", detail="the credentials were refused", server=None)
    )

    code = await run(["test", str(uuid.uuid4())], ctx)

    out = capsys.readouterr().out
    assert code == EXIT_REJECTED
    assert "result: auth_failed\ndetail: the credentials were refused\n" in out
    assert "server:" not in out


async def test_a_rejected_test_exits_1_and_prints_the_reason(
    ctx: CliContext, tester: FakeTester, capsys: pytest.CaptureFixture[str]
) -> None:
    tester.reject_next.append(Reason.NOT_FOUND)

    code = await run(["test", str(uuid.uuid4())], ctx)

    assert code == EXIT_REJECTED
    assert "rejected: not_found" in capsys.readouterr().out


async def test_json_output_is_the_outcome_document_with_its_result(
    ctx: CliContext, tester: FakeTester, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run(["check", str(uuid.uuid4()), "--json"], ctx)

    outcome = CommandOutcome.model_validate_json(capsys.readouterr().out)
    assert code == EXIT_OK
    assert outcome == tester.received[0].reply
    assert tester.received[0].command.type == "check"
    assert outcome.result is not None
    assert outcome.result["phases"]["auth"] == 20.0


async def test_a_draft_seals_the_secrets_read_from_a_file_and_keeps_them_out_of_argv(
    ctx: CliContext, tester: FakeTester, tmp_path: Path, leak_channels: LeakChannels
) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"password": PASSWORD}))
    argv = [*DRAFT, *CONFIG, "--secrets-file", str(secrets_file)]

    code = await run(argv, ctx)

    [received] = tester.received
    out, _ = leak_channels.output()
    assert code == EXIT_OK
    assert received.secrets == {"password": PASSWORD}
    assert received.command.payload.model_dump(include={"config", "draft"}) == {
        "config": {"host": "db.internal", "port": 5432},
        "draft": True,
    }
    assert "(draft, not stored)" in out
    leak_channels.secrets(PASSWORD)
    leak_channels.add("argv", " ".join(argv))
    leak_channels.add("sent message", received.raw)
    leak_channels.assert_clean()


async def test_a_draft_reads_its_secrets_from_stdin_under_the_id_given(
    ctx: CliContext, tester: FakeTester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"password": PASSWORD})))
    draft_id = str(uuid.uuid4())

    code = await run([*DRAFT, "--id", draft_id, "--secrets-stdin"], ctx)

    [received] = tester.received
    assert code == EXIT_OK
    assert str(received.command.connection_id) == draft_id
    assert received.secrets == {"password": PASSWORD}


@pytest.mark.parametrize(
    "secret_argv",
    [["--password", PASSWORD], ["--secret", f"password={PASSWORD}"], ["--secrets", PASSWORD]],
)
def test_a_draft_takes_no_secret_value_on_the_command_line(secret_argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*DRAFT, *secret_argv])

    assert exited.value.code == EXIT_USAGE


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["test"], "test needs a connection ID, or --draft"),
        (["test", str(uuid.uuid4()), "--kind", "redis"], "--kind needs --draft"),
        (["test", str(uuid.uuid4()), "--secrets-stdin"], "--secrets-stdin needs --draft"),
        (["test", "--draft", "--kind", "redis"], "--draft needs --name and --kind"),
        ([*DRAFT, str(uuid.uuid4())], "--draft takes no ID"),
        ([*DRAFT, "--config-json", "[]"], "--config-json must be a JSON object"),
    ],
)
async def test_bad_test_arguments_exit_2_before_anything_is_sent(
    ctx: CliContext,
    tester: FakeTester,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    complaint: str,
) -> None:
    code = await run(argv, ctx)

    assert code == EXIT_USAGE
    assert complaint in capsys.readouterr().err
    assert tester.received == []


async def test_no_outcome_in_time_exits_3(
    ctx: CliContext, tester: FakeTester, capsys: pytest.CaptureFixture[str]
) -> None:
    tester.silent = True

    code = await run(["test", str(uuid.uuid4()), "--timeout", "0.3", "--json"], ctx)

    assert code == EXIT_TIMEOUT
    assert json.loads(capsys.readouterr().out)["outcome"] == "timeout"


@pytest.mark.parametrize("command", ["test", "check"])
def test_the_help_documents_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args([command, "--help"])

    out = capsys.readouterr().out
    assert "0  the test ran and its result is ok" in out
    assert "1  the command was rejected, or the result is not ok" in out
    assert "awaited up to 70s (the configured timeout if longer)" in out
