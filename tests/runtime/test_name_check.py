"""``connmgr projection duplicate-names`` reports the names older data shares, per tenant."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.cli import build_parser
from connmgr.runtime.name_check import run_duplicate_names
from connmgr.schemas.settings import Settings
from support.seeds import Seed


async def test_duplicates_are_listed_per_tenant_and_the_exit_code_says_so(
    engine: AsyncEngine, database_url: str, seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=database_url)
    every = build_parser().parse_args(["projection", "duplicate-names"])
    await seed.connection("orders-db", secret_fields=None)
    await seed.connection("orders-db", tenant="globex", secret_fields=None)
    assert await run_duplicate_names(settings, every) == 0
    assert capsys.readouterr().out == "names: unique in every tenant\n"

    a = await seed.connection("cache", secret_fields=None)
    b = await seed.connection("cache", secret_fields=None)
    await seed.connection("cache", secret_fields=None, deleted=True)

    assert await run_duplicate_names(settings, every) == 1
    assert capsys.readouterr().out == f"acme\tcache\t{','.join(sorted((a, b)))}\n"
    globex = build_parser().parse_args(["projection", "duplicate-names", "--tenant", "globex"])
    assert await run_duplicate_names(settings, globex) == 0
    assert capsys.readouterr().out == "names: unique\n"
