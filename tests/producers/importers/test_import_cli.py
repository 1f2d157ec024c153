"""``connmgr import``: the file written, the report, refusals, and no secret anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from importer_fixtures import AIRFLOW_SECRETS, FIXTURES, GATUS_SECRETS, KUMA_SECRETS

from connmgr.producers.cli import CliContext
from connmgr.runtime.cli_parser import build_parser
from connmgr.schemas.declared.text import load_declared
from support.leaks import LeakChannels

CTX = CliContext(nats_url="nats://127.0.0.1:1", tenant="default", actor_id="importer-test")
EXPECTED = FIXTURES / "expected"


async def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    code: int = await args.handler(args, CTX)
    return code


@pytest.mark.parametrize(
    ("peer", "fixture", "expected"),
    [
        ("airflow", "airflow_connections.json", "airflow_connections.yaml"),
        ("uptime-kuma", "uptime_kuma_backup.json", "uptime_kuma_backup.yaml"),
        ("gatus", "gatus_config.yaml", "gatus_config.yaml"),
    ],
)
async def test_each_peer_file_is_written_as_this_exact_connections_file(
    peer: str, fixture: str, expected: str, tmp_path: Path
) -> None:
    out = tmp_path / "connections.yaml"

    assert await _run(["import", peer, str(FIXTURES / fixture), "-o", str(out)]) == 0

    written = out.read_text()
    assert written == (EXPECTED / expected).read_text()
    assert load_declared(written).source == peer


@pytest.mark.parametrize(
    ("peer", "fixture", "secrets"),
    [
        ("airflow", "airflow_connections.json", AIRFLOW_SECRETS),
        ("airflow", "airflow_connections.yaml", AIRFLOW_SECRETS),
        ("airflow", "airflow_connections.env", AIRFLOW_SECRETS),
        ("airflow", "airflow_connections_json.env", AIRFLOW_SECRETS),
        ("uptime-kuma", "uptime_kuma_backup.json", KUMA_SECRETS),
        ("gatus", "gatus_config.yaml", GATUS_SECRETS),
    ],
)
async def test_no_secret_of_the_input_reaches_the_file_the_report_or_a_log(
    peer: str, fixture: str, secrets: tuple[str, ...], tmp_path: Path, leak_channels: LeakChannels
) -> None:
    out = tmp_path / "connections.yaml"
    leak_channels.secrets(*secrets)

    assert await _run(["import", peer, str(FIXTURES / fixture), "-o", str(out)]) == 0

    stdout, _ = leak_channels.output()
    assert stdout.startswith("wrote ")
    assert "needs env CONNMGR_SECRET_" in stdout
    leak_channels.add("output file", out.read_text())
    leak_channels.assert_clean()


async def test_the_report_lists_skipped_entries_notes_and_the_env_names_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "connections.yaml"

    code = await _run(
        ["import", "airflow", str(FIXTURES / "airflow_connections.yaml"), "-o", str(out)]
    )

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote 2 connections to {out} (source airflow)",
        "skipped airflow:legacy_ftp: Airflow conn_type 'ftp' has no connmgr kind",
        "needs env CONNMGR_SECRET_CACHE_REDIS_PASSWORD",
        "needs env CONNMGR_SECRET_ORDERS_DB_PASSWORD",
    ]


async def test_a_json_output_name_writes_json_with_the_given_source(tmp_path: Path) -> None:
    out = tmp_path / "monitors.json"
    fixture = str(FIXTURES / "uptime_kuma_backup.json")

    assert (
        await _run(["import", "uptime-kuma", fixture, "-o", str(out), "--source", "kuma/prod"]) == 0
    )

    text = out.read_text()
    assert text.startswith("{")
    assert load_declared(text).source == "kuma/prod"


@pytest.mark.parametrize(
    ("peer", "name", "content", "reason"),
    [
        ("airflow", "conns.json", '{"a": {"conn_type": "postgres"', "input_malformed"),
        ("airflow", "conns.txt", "{}", "input_not_recognised"),
        ("uptime-kuma", "backup.json", '{"version": "1.23"}', "input_not_recognised"),
        (
            "gatus",
            "config.yaml",
            "a: &a [1,2,3,4,5,6,7,8,9,10]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
                for i in range(6)
            ),
            "input_too_complex",
        ),
    ],
    ids=["truncated-json", "unknown-suffix", "not-a-backup", "yaml-bomb"],
)
async def test_a_refused_input_writes_nothing_and_leaves_an_existing_output_as_it_was(
    peer: str,
    name: str,
    content: str,
    reason: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, out = tmp_path / name, tmp_path / "connections.yaml"
    source.write_text(content)
    out.write_text("previous content\n")

    code = await _run(["import", peer, str(source), "-o", str(out)])

    assert code == 1
    assert capsys.readouterr().err.startswith(f"connmgr: import {peer}: {reason}: ")
    assert out.read_text() == "previous content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "connections.yaml"])


async def test_a_file_over_the_size_bound_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "huge.json", tmp_path / "connections.yaml"
    with source.open("wb") as stream:
        stream.truncate(16 * 1024 * 1024 + 1)

    assert await _run(["import", "uptime-kuma", str(source), "-o", str(out)]) == 1

    assert "input_too_large" in capsys.readouterr().err
    assert not out.exists()


async def test_a_uri_with_credentials_gives_a_reference_and_never_the_password(
    tmp_path: Path, leak_channels: LeakChannels
) -> None:
    password = "Uri-pass-w0rd-9c8b7a6d5e4f"
    source, out = tmp_path / "conns.env", tmp_path / "connections.yaml"
    source.write_text(f"warehouse=postgres://etl:{password}@wh.example.com:5432/dwh\n")
    leak_channels.secrets(password)

    assert await _run(["import", "airflow", str(source), "-o", str(out)]) == 0

    declared = load_declared(out.read_text()).by_name()["warehouse"]
    assert declared.secrets == {"password": "env:CONNMGR_SECRET_WAREHOUSE_PASSWORD"}
    assert declared.auth.model_dump() == {"method": "basic", "username": "etl"}
    leak_channels.add("output file", out.read_text())
    leak_channels.assert_clean()
