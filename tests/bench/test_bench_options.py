"""The benches' shared option types (``bench/harness/options.py``): a count is at
least 1, an amount at least 0, a duration or rate above 0, and a bench's command
line refuses anything
else with a usage error naming the option, before anything starts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench.harness import amount, count, positive  # noqa: E402
from bench.pipeline.options import parse_options as parse_pipeline_options  # noqa: E402
from bench.pipeline.options import worker_env  # noqa: E402
from bench.prober.options import parse_options as parse_prober_options  # noqa: E402
from bench.prober.options import prober_env  # noqa: E402
from bench.tester.options import parse_options  # noqa: E402


def test_a_count_is_an_integer_of_at_least_one() -> None:
    assert (count("1"), count("2000")) == (1, 2000)
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1, not 0"):
        count("0")
    with pytest.raises(ValueError, match="invalid literal"):
        count("1.5")


def test_an_amount_is_an_integer_of_at_least_zero() -> None:
    assert (amount("0"), amount("1000000")) == (0, 1_000_000)
    with pytest.raises(argparse.ArgumentTypeError, match="at least 0, not -1"):
        amount("-1")


def test_the_pipeline_bench_starts_from_no_history_unless_asked() -> None:
    assert parse_pipeline_options([]).history == 0
    assert parse_pipeline_options(["--history", "1000000"]).history == 1_000_000


def test_the_pipeline_workers_log_at_the_level_asked_for() -> None:
    assert worker_env(parse_pipeline_options([])) == {"CONNMGR_LOG_LEVEL": "warning"}
    shipped = parse_pipeline_options(["--log-level", "info"])
    assert worker_env(shipped) == {"CONNMGR_LOG_LEVEL": "info"}
    with pytest.raises(SystemExit):
        parse_pipeline_options(["--log-level", "debug"])


def test_the_probers_log_at_the_level_asked_for_and_check_loopback() -> None:
    quiet = prober_env(parse_prober_options([]))
    shipped = prober_env(parse_prober_options(["--log-level", "info", "--concurrency", "8"]))
    assert quiet["CONNMGR_LOG_LEVEL"] == "warning"
    assert shipped["CONNMGR_LOG_LEVEL"] == "info"
    assert shipped["CONNMGR_TESTER_CONCURRENCY"] == "8"
    assert shipped["CONNMGR_EGRESS_ALLOW_LOOPBACK"] == "1"


def test_the_prober_bench_measures_one_thing_alone_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    default = parse_prober_options([])
    assert (default.storage_only, default.reconcile_only) == (False, False)
    assert parse_prober_options(["--reconcile-only"]).reconcile_only
    with pytest.raises(SystemExit):
        parse_prober_options(["--storage-only", "--reconcile-only"])
    assert "separate runs" in capsys.readouterr().err


def test_a_duration_or_rate_is_above_zero() -> None:
    assert (positive("0.1"), positive("500")) == (0.1, 500.0)
    for refused in ("0", "-1", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be above 0"):
            positive(refused)


def test_a_bench_refuses_a_zero_count_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_options(["--tests", "1"]).tests == 1  # the same option, allowed
    with pytest.raises(SystemExit) as exit_:
        parse_options(["--tests", "0"])
    assert exit_.value.code == 2
    assert "argument --tests: must be at least 1, not 0" in capsys.readouterr().err
