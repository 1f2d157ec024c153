"""The write commands of the CLI: arguments, secrets input, printed outcomes, exit codes."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import uuid
from pathlib import Path

import pytest
from cli_runner import parser, run
from producer_fakes import ACTOR, TENANT, FakeEncryptor

from connmgr.producers.cli import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliContext,
)
from connmgr.producers.cli_input import config_of
from connmgr.schemas.commands import UpdatePayload
from connmgr.schemas.outcomes import CommandOutcome, Reason
from connmgr.schemas.recipients import NotifySettings
from support.leaks import LeakChannels

PASSWORD = "pw-" + uuid.uuid4().hex
CREATE = ["create", "--name", "orders-db", "--kind", "postgres", "--username", "app"]
CONFIG = ["--config", "host=db.internal", "--config", "port=5432", "--config", "database=orders"]
SAFE_SECRET_OPTIONS = {"--secrets-file", "--secrets-stdin", "--secret-prompt"}


@pytest.fixture
def ctx(producers_nats_url: str) -> CliContext:
    return CliContext(nats_url=producers_nats_url, tenant=TENANT, actor_id=ACTOR, timeout_s=5.0)


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"password": PASSWORD}))
    return path


@pytest.mark.parametrize(
    "secret_argv",
    [["--password", PASSWORD], ["--secret", f"password={PASSWORD}"], ["--secrets", PASSWORD]],
)
def test_secrets_cannot_be_given_on_the_command_line(secret_argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*CREATE, *secret_argv])

    assert exited.value.code == EXIT_USAGE


@pytest.mark.parametrize("command", ["create", "update", "rotate", "delete", "test", "check"])
def test_the_only_secret_options_name_a_source_not_a_value(command: str) -> None:
    subparsers = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {o for a in subparsers.choices[command]._actions for o in a.option_strings}

    assert {o for o in options if "secret" in o or "password" in o} <= SAFE_SECRET_OPTIONS


async def test_create_seals_the_secrets_read_from_a_file(
    ctx: CliContext,
    encryptor: FakeEncryptor,
    secrets_file: Path,
    leak_channels: LeakChannels,
) -> None:
    code = await run([*CREATE, *CONFIG, "--secrets-file", str(secrets_file), "--tag", "prod"], ctx)

    assert code == EXIT_OK
    [received] = encryptor.received
    assert received.secrets == {"password": PASSWORD}
    assert received.command.payload.model_dump(include={"config", "tags"}) == {
        "config": {"host": "db.internal", "port": 5432, "database": "orders"},
        "tags": ["prod"],
    }
    out, _ = leak_channels.output()
    assert f"accepted: connection {received.command.connection_id} version 1" in out
    leak_channels.secrets(PASSWORD)
    leak_channels.add("sent message", received.raw)
    leak_channels.assert_clean()


async def test_rotate_reads_the_secrets_from_stdin(
    ctx: CliContext, encryptor: FakeEncryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"password": PASSWORD})))
    connection_id = str(uuid.uuid4())

    code = await run(["rotate", connection_id, "--secrets-stdin", "--expected-version", "3"], ctx)

    assert code == EXIT_OK
    [received] = encryptor.received
    assert (str(received.command.connection_id), received.command.type) == (connection_id, "rotate")
    assert received.secrets == {"password": PASSWORD}


async def test_secret_prompt_asks_for_each_field_without_echo(
    ctx: CliContext, encryptor: FakeEncryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", answer)

    code = await run(["rotate", str(uuid.uuid4()), "--secret-prompt", "password"], ctx)

    assert code == EXIT_OK
    assert asked == ["password: "]
    assert encryptor.received[0].secrets == {"password": PASSWORD}


async def test_update_sends_only_the_fields_given(
    ctx: CliContext, encryptor: FakeEncryptor
) -> None:
    connection_id = str(uuid.uuid4())

    code = await run(["update", connection_id, "--description", "orders", "--clear-tags"], ctx)
    refused = await run(["update", connection_id, "--clear-tags", "--tag", "a"], ctx)

    assert (code, refused) == (EXIT_OK, EXIT_USAGE)
    [received] = encryptor.received
    assert received.command.type == "update"
    assert received.command.payload == UpdatePayload(description="orders", tags=[])


async def test_json_output_is_the_outcome_document(
    ctx: CliContext, encryptor: FakeEncryptor, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run(["delete", str(uuid.uuid4()), "--reason", "retired", "--json"], ctx)

    outcome = CommandOutcome.model_validate_json(capsys.readouterr().out)
    assert code == EXIT_OK
    assert outcome.command_id == encryptor.received[0].command.command_id
    assert outcome.events == ["ConnectionDeleted"]


async def test_a_rejection_exits_1_and_prints_the_reason(
    ctx: CliContext, encryptor: FakeEncryptor, capsys: pytest.CaptureFixture[str]
) -> None:
    encryptor.reject_next.append(Reason.VERSION_CONFLICT)

    code = await run(["delete", str(uuid.uuid4()), "--expected-version", "9"], ctx)

    assert code == EXIT_REJECTED
    assert "rejected: version_conflict" in capsys.readouterr().out


async def test_no_outcome_in_time_exits_3_and_prints_the_ids_to_check_later(
    ctx: CliContext, encryptor: FakeEncryptor, capsys: pytest.CaptureFixture[str]
) -> None:
    encryptor.silent = True

    code = await run(["delete", str(uuid.uuid4()), "--timeout", "0.3", "--json"], ctx)

    printed = json.loads(capsys.readouterr().out)
    assert code == EXIT_TIMEOUT
    assert printed["outcome"] == "timeout"
    assert printed["command_id"] == str(encryptor.received[0].command.command_id)


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--config-json", "{not json"], "--config-json is not valid JSON"),
        (["--config", "port"], "--config takes KEY=VALUE"),
        (["--auth-json", "{}", "--auth-method", "basic"], "--auth-json cannot be combined"),
        (["--health-json", "[]"], "--health-json must be a JSON object"),
        (["--tag", "not a tag"], "tags.0"),
        (["--notify-from", "a@example.com"], "--notify-from needs --notify-to"),
        (["--notify-to", "ops@example.com\r\nBcc: spy@example.com"], "notify.recipients.0"),
    ],
)
async def test_bad_arguments_exit_2_before_anything_is_sent(
    ctx: CliContext,
    encryptor: FakeEncryptor,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    complaint: str,
) -> None:
    code = await run([*CREATE, *argv], ctx)

    assert code == EXIT_USAGE
    assert complaint in capsys.readouterr().err
    assert encryptor.received == []


async def test_create_and_update_send_the_recipients_as_the_notify_field(
    ctx: CliContext, encryptor: FakeEncryptor
) -> None:
    mail = ["create", "--name", "mail", "--kind", "smtp", "--config", "host=mx.example.com"]
    recipients = ["--notify-to", "ops@example.com", "--notify-to", "oncall@example.com"]
    connection_id = str(uuid.uuid4())

    created = await run([*mail, *recipients, "--notify-from", "alerts@example.com"], ctx)
    cleared = await run(["update", connection_id, "--clear-notify"], ctx)
    kept = await run(["update", connection_id, "--description", "team b"], ctx)
    both = await run(["update", connection_id, "--clear-notify", *recipients], ctx)

    assert (created, cleared, kept, both) == (EXIT_OK, EXIT_OK, EXIT_OK, EXIT_USAGE)
    create, clear, keep = (received.command.payload for received in encryptor.received)
    assert create.notify == NotifySettings(
        recipients=["ops@example.com", "oncall@example.com"], sender="alerts@example.com"
    )
    assert clear.notify == NotifySettings(recipients=[])
    assert keep.notify is None


async def test_an_unreadable_secrets_file_exits_2_without_echoing_its_content(
    ctx: CliContext, tmp_path: Path, leak_channels: LeakChannels
) -> None:
    path = tmp_path / "secrets.txt"
    path.write_text(f"password: {PASSWORD}")

    code = await run([*CREATE, "--secrets-file", str(path)], ctx)

    _, err = leak_channels.output()
    assert code == EXIT_USAGE
    assert "--secrets-file must hold a JSON object of strings" in err
    leak_channels.secrets(PASSWORD)
    leak_channels.assert_clean()


async def test_an_unreachable_nats_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    closed = CliContext(nats_url="nats://127.0.0.1:1", tenant=TENANT, actor_id=ACTOR, timeout_s=1)

    code = await run(["delete", str(uuid.uuid4())], closed)

    assert code == EXIT_UNAVAILABLE
    assert "cannot connect to NATS" in capsys.readouterr().err


def test_config_pairs_become_typed_nested_fields() -> None:
    args = parser().parse_args(
        [*CREATE, "--config", "base_url=https://x.test", "--config", "test.expected_status=204",
         "--config", "test.path=/health", "--config", "tls=true"]
    )  # fmt: skip

    assert config_of(args) == {
        "base_url": "https://x.test",
        "test": {"expected_status": 204, "path": "/health"},
        "tls": True,
    }
