"""``python -m bench.pipeline --history N`` stores N handled commands before the write
runs (``bench/pipeline/history.py``), rows the encryptor's lookup then reads past."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connmgr.storage.command_log import find_outcomes
from connmgr.storage.tables import handled_commands
from support.databases import migrated_engine
from support.fixture_types import NewPostgresUrl

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``bench`` is a package at the repository's root
    sys.path.append(str(ROOT))

from bench.pipeline.history import store_history  # noqa: E402


@pytest.mark.parametrize("count", [0, 250])
async def test_history_is_that_many_handled_commands_of_the_tenant(
    fresh_pg_url: NewPostgresUrl, capsys: pytest.CaptureFixture[str], count: int
) -> None:
    async with migrated_engine(await fresh_pg_url()) as engine:
        await store_history(engine, "bench", count)
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(handled_commands.c.tenant, func.count()).group_by(handled_commands.c.tenant)
            )
            assert rows.all() == ([("bench", count)] if count else [])
            assert await find_outcomes(connection, [("bench", str(uuid.uuid4()))]) == {}
    assert f"history_handled_commands: {count}" in capsys.readouterr().out
