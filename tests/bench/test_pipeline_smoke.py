"""The pipeline bench keeps working: a tiny run prints every figure with a number.

Not a timed assertion: the figures are not judged, only that each is printed as
``name: value`` with a numeric value, that the run exits 0, and that ``--record DIR``
writes those figures, the command line and the machine's load to one result file
(``support.bench_results``). Each available
HTTP loader is exercised: the Python one always; wrk where installed, and
otherwise its case is skipped, saying so (no machine of the project, CI's included,
is promised wrk: .ci/run does not install it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import printed_figures, recording_problems
from support.services import require_optional_tool, require_services

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "-m", "bench.pipeline"]
TINY = [
    "--commands",
    "50",
    "--connections",
    "200",
    "--duration",
    "2",
    "--rate",
    "100",
    "--encryptors",
    "2",
]
SHORT_LOAD = ["--api-duration", "1", "--api-concurrency", "4"]
FIGURES = (
    "raw_publish_per_s",
    "end_to_end_commands_per_s",
    "end_to_end_ratio",
    "encryptor_cpu_us_per_command",
    "latency_p50_ms",
    "latency_p99_ms",
    "relay_latency_p50_ms",
    "relay_latency_p99_ms",
    "encryptor_peak_rss_mb",
    "api_get_connection_rps",
    "api_cpu_us_per_request",
    "api_warm_get_connection_rps",
    "api_warm_cpu_us_per_request",
    "bare_aiohttp_rps",
    "api_ratio",
    "api_warm_ratio",
    "floor_e2e_per_s",
    "floor_cpu_us_per_command",
    "floor_ratio",
)
WRK_IS_OPTIONAL = "the bench falls back to its Python loader (apt-get install wrk to run this)"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("loader", ["python", "wrk"])
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    loader: str, tmp_path: Path
) -> None:
    if loader == "wrk":
        require_optional_tool("wrk", WRK_IS_OPTIONAL)
    await require_services("postgres", "nats")
    options = [*TINY, *SHORT_LOAD, "--loader", loader, "--record", str(tmp_path)]
    run = subprocess.run(
        [*BENCH, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    missing = [name for name in FIGURES if name not in printed]
    assert not missing, f"missing figures {missing} in:\n{run.stdout}\n{run.stderr[-3000:]}"
    assert all(printed[name] > 0 for name in FIGURES), printed
    assert recording_problems(tmp_path, "pipeline", options, run.stdout) == []


@pytest.mark.timeout(180)
async def test_the_sync_comparison_prints_the_write_figures_under_each_setting() -> None:
    await require_services("postgres", "nats")
    run = subprocess.run(
        [*BENCH, "--commands", "50", "--nats-sync", "compare"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    expected = [f"{mode}_{name}" for mode in ("default", "always") for name in FIGURES[:4]]
    assert sorted(printed) == sorted([*expected, "always_end_to_end_share"]), run.stdout
    assert all(value > 0 for value in printed.values()), printed


@pytest.mark.timeout(120)
async def test_reads_only_prints_just_the_read_figures() -> None:
    await require_services("postgres", "nats")
    run = subprocess.run(
        [*BENCH, "--reads-only", "--connections", "200", *SHORT_LOAD, "--loader", "python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    expected = [
        "api_cpu_us_per_request",
        "api_get_connection_rps",
        "api_ratio",
        "api_warm_cpu_us_per_request",
        "api_warm_get_connection_rps",
        "api_warm_ratio",
        "bare_aiohttp_rps",
    ]
    assert sorted(printed) == expected, run.stdout
    assert all(value > 0 for value in printed.values()), printed
