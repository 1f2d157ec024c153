"""The tester bench keeps working: a tiny run prints every figure with a number.

Not a timed assertion: no figure is judged, only that each is printed as
``name: value`` with a numeric value and that the run exits 0; and that ``--record
DIR`` writes those figures, the command line and the machine's load to one result file
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
BENCH = [sys.executable, "-m", "bench.tester"]
KINDS = ("postgres", "redis", "http")
PER_PASS = (
    "connmgr_{}_tests_per_s",
    "bare_{}_tests_per_s",
    "{}_ratio",
    "tester_{}_cpu_percent",
    "tester_{}_cpu_ms_per_test",
    "bare_{}_cpu_ms_per_test",
    "connmgr_{}_checks_in_flight",
    "bare_{}_in_flight",
    "tester_{}_results_per_flush",
    "connmgr_{}_not_ok",
    "bare_{}_errors",
)
PER_KIND = tuple(
    f"{side}_{{}}_latency_{label}_ms"
    for side in ("connmgr", "bare")
    for label in ("p50", "p95", "p99")
)
FIGURES = (
    *(name.format(k) for k in (*KINDS, "mixed") for name in PER_PASS),
    *(name.format(kind) for kind in KINDS for name in PER_KIND),
    "tester_peak_rss_mb",
    "tester_concurrency",
    "tester_per_target",
)


@pytest.mark.timeout(150)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres", "nats", "redis")
    options = ["--tests", "60", "--record", str(tmp_path)]
    run = subprocess.run(
        [*BENCH, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=140,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    missing = [name for name in FIGURES if name not in printed]
    assert not missing, f"missing figures {missing} in:\n{run.stdout}\n{run.stderr[-3000:]}"
    rates = [f"{side}_{k}_tests_per_s" for side in ("connmgr", "bare") for k in (*KINDS, "mixed")]
    assert all(printed[name] > 0 for name in rates), printed
    assert recording_problems(tmp_path, "tester", options, run.stdout) == []
