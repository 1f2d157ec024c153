"""The prober bench keeps working: a tiny run prints every figure with a number.

Not a timed assertion: the figures are not judged, only that each is printed as
``name: value`` with a numeric value, and that the run exits 0 (it stops every
process it started, and drops its database, on its own); and that ``--record DIR``
writes those figures, the command line and the machine's load to one result file
(``support.bench_results``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import printed_figures, recording_problems
from support.services import require_services

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "-m", "bench.prober"]
TINY = ["--connections", "50", "--interval", "10", "--duration", "15", "--replicas", "2"]
FIGURES = (
    "expected_checks_per_s",
    "achieved_checks_per_s",
    "expected_checks",
    "missed_checks",
    "doubled_checks",
    "duplicate_sequences",
    "redelivered_checks",
    "schedule_lag_p50_ms",
    "schedule_lag_p99_ms",
    "schedule_lag_max_ms",
    "spacing_jitter_p99_ms",
    "prober_1_cpu_percent",
    "prober_1_peak_rss_mb",
    "prober_2_cpu_percent",
    "prober_2_peak_rss_mb",
    "samples_rows_per_day",
    "samples_bytes_per_row",
    "packed_bytes_per_check",
    "samples_bytes_per_day",
    "rollup_rows_per_day",
    "rollup_bytes_per_row",
    "minute_rollup_packed_bytes",
    "hour_rollup_packed_bytes",
    "rollup_bytes_per_day",
    "samples_retained_gib",
    "rollups_retained_gib",
)


@pytest.mark.timeout(240)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres", "nats", "redis")
    options = [*TINY, "--record", str(tmp_path)]
    run = subprocess.run(
        [*BENCH, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    missing = [name for name in FIGURES if name not in printed]
    assert not missing, f"missing figures {missing} in:\n{run.stdout}\n{run.stderr[-3000:]}"
    assert printed["expected_checks"] > 0, printed
    assert printed["prober_1_peak_rss_mb"] > 0, printed
    assert printed["prober_2_peak_rss_mb"] > 0, printed
    assert recording_problems(tmp_path, "prober", options, run.stdout) == []


STORAGE_FIGURES = (
    "checks_per_day",
    "raw_bytes_per_check",
    "packed_bytes_per_check",
    "pack_cpu_us_per_check",
    "samples_bytes_per_day",
    "raw_buffer_bytes",
    "samples_retained_gib",
    "retained_bytes_per_check",
    "rollup_cpu_us_per_check",
    "rollup_bytes_per_row",
    "minute_rollup_packed_bytes",
    "hour_rollup_packed_bytes",
    "rollups_bytes_per_day_as_rows",
    "rollups_bytes_per_day",
    "rollups_retained_gib_as_rows",
    "rollups_retained_gib",
)


@pytest.mark.timeout(120)
async def test_the_storage_only_mode_prints_its_figures_as_numbers() -> None:
    """``--storage-only``: an hour of 5 connections filled, packed and measured."""
    await require_services("postgres")
    options = ["--storage-only", "--connections", "5", "--interval", "60", "--hours", "1"]
    run = subprocess.run(
        [*BENCH, *options], cwd=ROOT, capture_output=True, text=True, timeout=110, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    assert sorted(printed) == sorted(STORAGE_FIGURES), run.stdout
    assert printed["packed_bytes_per_check"] > 0, printed
    assert 0 < printed["minute_rollup_packed_bytes"] < printed["rollup_bytes_per_row"], printed
    assert "samples were not packed" not in run.stderr, run.stderr[-3000:]
