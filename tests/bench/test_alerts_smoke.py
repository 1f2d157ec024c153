"""The alerts bench keeps working: a tiny run prints every figure with a number.

Not a timed assertion: the timings are not judged, only that each figure is printed
as ``name: value`` with a numeric value, that the history is the one asked for, that
the run exits 0, and that ``--record DIR`` writes one result file
(``support.bench_results``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import recorded_tiny_run
from support.services import require_services

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "-m", "bench.alerts"]
TINY = ["--connections", "20", "--rounds", "3", "--noise", "4", "--neighbours", "1", "--reads", "2"]
FIGURES = (
    "alerts_stored",
    "events_stored",
    "alerts_first_page_ms_p50",
    "alerts_first_page_ms_max",
    "alerts_resolved_page_ms_p50",
    "alerts_one_connection_ms_p50",
)


@pytest.mark.timeout(120)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres")
    printed = recorded_tiny_run("alerts", TINY, FIGURES, tmp_path)
    assert printed["alerts_stored"] == 20 * 3
    # Per tenant: 3 rounds of a raise, 4 changes and a resolve on 20 connections, less
    # the resolve of the last round on the 2 connections (one in ten) left open.
    assert printed["events_stored"] == 2 * (20 * 3 * 6 - 2)


def test_a_bad_option_is_refused_with_its_name() -> None:
    run = subprocess.run(
        [*BENCH, "--rounds", "0"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert run.returncode == 2
    assert "--rounds" in run.stderr
