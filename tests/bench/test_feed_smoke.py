"""The feed bench keeps working: a tiny run prints every figure with a number.

Not a timed assertion: no figure is judged, only that each is printed as
``name: value`` with a number, that every event reached every stream, and that
``--record DIR`` writes one result file (``support.bench_results``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import printed_figures, recording_problems
from support.services import require_services

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "api_rss_idle_mb",
    "api_rss_streams_mb",
    "api_rss_delta_mb",
    "delivery_p50_ms",
    "delivery_p99_ms",
    "delivery_max_ms",
    "deliveries_missing",
    "streams",
    "events",
)


@pytest.mark.timeout(90)
async def test_a_tiny_run_prints_every_figure_and_delivers_every_event(tmp_path: Path) -> None:
    await require_services("postgres", "nats")
    options = ["--streams", "5", "--events", "2", "--interval", "0.1", "--record", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "bench.feed", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    assert [name for name in FIGURES if name not in printed] == [], run.stdout
    assert (printed["streams"], printed["events"], printed["deliveries_missing"]) == (5, 2, 0)
    assert recording_problems(tmp_path, "feed", options, run.stdout) == []
