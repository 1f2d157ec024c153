"""A tiny run of the lists bench prints each of its figures with a number, for the
connections it was asked to seed, and ``--record DIR`` writes its result file; the
timings themselves are not judged (a page that should have found rows and came back
empty, or the reverse, fails the run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_results import recorded_tiny_run
from support.services import require_services

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--connections", "60", "--neighbours", "1", "--reads", "2"]
FIGURES = (
    "connections_stored",
    "list_first_page_ms_p50",
    "list_rare_status_ms_p50",
    "list_rare_kind_ms_p50",
    "list_tag_ms_p50",
    "list_q_one_ms_p50",
    "list_q_none_ms_p50",
    "list_q_common_ms_p50",
)


@pytest.mark.timeout(120)
async def test_a_tiny_run_prints_every_figure_as_a_number_and_records_them(
    tmp_path: Path,
) -> None:
    await require_services("postgres")
    printed = recorded_tiny_run("lists", TINY, FIGURES, tmp_path)
    assert printed["connections_stored"] == 2 * 60


def test_too_few_connections_for_the_rare_filters_are_refused_with_the_option() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.lists", "--connections", "9"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--connections" in run.stderr
