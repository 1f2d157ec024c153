"""A tiny run of the stats bench prints each of its figures with a number and records
them; the timings are not judged (a packed answer unlike the rows' fails the run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.bench_results import recorded_tiny_run
from support.services import require_services

TINY = ["--connections", "3", "--days", "1", "--reads", "1"]
CASES = tuple(
    f"{who}_{window}" for who in ("connection", "tenant") for window in ("24h", "7d", "30d")
)
FIGURES = (
    "minute_buckets",
    *(f"{case}_{figure}" for case in CASES for figure in ("rows_ms", "packed_ms", "packed_cpu_ms")),
)


@pytest.mark.timeout(120)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres")
    printed = recorded_tiny_run("stats", TINY, FIGURES, tmp_path)
    assert printed["minute_buckets"] == 3 * 24 * 60
