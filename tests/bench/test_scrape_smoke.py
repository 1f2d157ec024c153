"""A tiny run of the scrape bench prints each of its figures with a number, for the
fleet it was asked to seed, and ``--record DIR`` writes its result file; the timings
themselves are not judged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import recorded_tiny_run
from support.services import require_services

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "-m", "bench.scrape"]
TINY = ["--connections", "30", "--samples", "2", "--reads", "2"]
FIGURES = (
    "connections_stored",
    "samples_stored",
    "fleet_counts_ms_p50",
    "latency_histogram_ms_p50",
    "checks_last_minute_ms_p50",
    "scrape_gauges_ms_p50",
    "scrape_gauges_ms_max",
)


@pytest.mark.timeout(120)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres")
    printed = recorded_tiny_run("scrape", TINY, FIGURES, tmp_path)
    assert (printed["connections_stored"], printed["samples_stored"]) == (30, 60)


def test_a_bad_option_is_refused_with_its_name() -> None:
    run = subprocess.run(
        [*BENCH, "--samples", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 2
    assert "--samples" in run.stderr
