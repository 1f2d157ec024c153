"""``connmgr import … --apply`` against the real stack: the imported secrets sealed from
memory, never printed, never put in the environment; again changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from declared_stack import Stack

from support.leaks import LeakChannels

PASSWORD = "Imp-pg-pass-4d5e6f7a8b9c"
TOKEN = "Imp-bearer-0a1b2c3d4e5f6a7b"
EXPORT = f"""\
orders_db=postgres://app:{PASSWORD}@orders.db.internal:5432/orders?sslmode=require
status_api=http://status.example.com/https?Authorization=Bearer+{TOKEN}
legacy_ftp=ftp://user:Imp-ftp-9f8e7d6c@ftp.example.com
"""
VARIABLES = ("CONNMGR_SECRET_ORDERS_DB_PASSWORD", "CONNMGR_SECRET_STATUS_API_TOKEN")


async def test_an_import_applied_at_once_creates_its_connections_with_their_secrets(
    stack: Stack, tmp_path: Path, leak_channels: LeakChannels, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []  # every value put in the environment (a child would inherit it)
    monkeypatch.setattr(os, "putenv", lambda name, value: written.append(f"{name}={value}"))
    ctx, other = await stack.tenant(), await stack.tenant()
    source, out = tmp_path / "connections.env", tmp_path / "connections.yaml"
    source.write_text(EXPORT)
    leak_channels.secrets(PASSWORD, TOKEN)
    argv = ["import", "airflow", str(source), "-o", str(out), "--apply", "--yes"]

    assert await stack.run(ctx, *argv) == 2

    found = {c.name: c for c in await stack.existing(ctx)}
    assert sorted(found) == ["orders_db", "status_api"]
    assert found["orders_db"].secret_fields == ("password",)
    assert found["status_api"].secret_fields == ("token",)
    assert found["status_api"].config["base_url"] == "https://status.example.com"
    assert found["orders_db"].tags == ("managed-by:airflow",)
    assert not any(name in os.environ for name in VARIABLES)
    leak_channels.add("environment writes", "\n".join(written))
    assert await stack.existing(other) == []
    stdout, _ = leak_channels.output()
    assert "skipped airflow:legacy_ftp: Airflow conn_type 'ftp' has no connmgr kind" in stdout
    assert "created orders_db (version 1)" in stdout

    assert await stack.run(ctx, *argv) == 0
    leak_channels.add("output file", out.read_text())
    leak_channels.assert_clean()


async def test_a_variable_the_user_set_is_left_as_it_was_and_the_imports_are_removed(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = await stack.tenant()
    source, out = tmp_path / "connections.env", tmp_path / "connections.yaml"
    source.write_text(EXPORT)
    monkeypatch.setenv(VARIABLES[0], "Set-by-the-user-1234abcd")
    argv = ["import", "airflow", str(source), "-o", str(out), "--apply", "--yes"]

    assert await stack.run(ctx, *argv) == 2

    assert os.environ[VARIABLES[0]] == "Set-by-the-user-1234abcd"
    assert VARIABLES[1] not in os.environ
