"""The console bench keeps working: a tiny run prints every figure with a number.

Not a timed assertion: the figures are not judged, only that each is printed as
``name: value`` with a numeric value, that the run exits 0, and that ``--record DIR``
writes one result file (``support.bench_results``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import printed_figures, recording_problems
from support.services import require_services, service_unavailable

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "-m", "bench.console"]
TINY = ["--connections", "120", "--runs", "1"]
FIGURES = (
    "first_load_assets_kb",
    "first_load_total_kb",
    "first_load_requests",
    "dashboard_usable_ms_first",
    "dashboard_usable_ms_p50",
    "dashboard_usable_ms_max",
    "dashboard_first_page_data_ms_p50",
    "connections_stored",
)


@pytest.mark.timeout(180)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres")
    if shutil.which("/usr/bin/chromium") is None:
        service_unavailable("chromium", "/usr/bin/chromium is missing")
    options = [*TINY, "--record", str(tmp_path)]
    run = subprocess.run(
        [*BENCH, *options], cwd=ROOT, capture_output=True, text=True, timeout=170, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    missing = [name for name in FIGURES if name not in printed]
    assert not missing, f"missing figures {missing} in:\n{run.stdout}\n{run.stderr[-3000:]}"
    assert printed["connections_stored"] == 120
    assert printed["first_load_assets_kb"] > 0
    assert recording_problems(tmp_path, "console", options, run.stdout) == []
