"""Operator CLI of issue 9: the callout's issuer key, operator tokens, the worker choice."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime import admin
from connmgr.runtime.cli import build_parser
from connmgr.runtime.keyfiles import load_callout_issuer
from connmgr.runtime.nats_auth_keys import run_keygen
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import resolve_token
from connmgr.workers.keyring import KeyringError
from connmgr.workers.nats_auth.issuer import public_key


async def test_keygen_writes_a_private_seed_prints_its_public_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_file = tmp_path / "nats-auth.seed"
    args = build_parser().parse_args(["nats-auth", "keygen", "--seed-file", str(seed_file)])

    assert await run_keygen(Settings(), args) == 0
    printed = capsys.readouterr().out.strip()
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
    issuer = load_callout_issuer(Settings(nats_auth_issuer_seed_file=seed_file))
    assert public_key(issuer) == printed
    assert seed_file.read_text().strip() not in printed

    before = seed_file.read_text()
    assert await run_keygen(Settings(), args) == 1
    assert seed_file.read_text() == before


def test_the_callout_fails_closed_without_a_usable_seed(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no auth callout issuer"):
        load_callout_issuer(Settings())
    readable = tmp_path / "seed"
    readable.write_text("SA-not-checked-yet")
    readable.chmod(0o644)
    with pytest.raises(KeyringError, match="owner only"):
        load_callout_issuer(Settings(nats_auth_issuer_seed_file=readable))


async def test_token_issue_operator_prints_a_metrics_only_token(
    engine: AsyncEngine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=database_url)
    args = build_parser().parse_args(["token", "issue", "--operator", "--name", "scraper"])

    assert await admin.run_token_issue(settings, args) == 0
    grant = await resolve_token(engine, capsys.readouterr().out.strip())
    assert grant is not None
    assert grant.operator
    assert grant.scopes == frozenset({"metrics:read"})
    with pytest.raises(SystemExit):
        build_parser().parse_args(["token", "issue", "--operator", "--tenant", "a", "--name", "n"])


def test_the_auth_callout_is_a_worker() -> None:
    assert build_parser().parse_args(["worker", "nats-auth"]).pool == "nats-auth"
