"""The benches' result files: the format ``--record`` writes, and the files kept.

``bench/results/`` holds one file per recorded run (``bench/README.md``, "Results").
The writer's format has a known answer here, so a change of it is a decision; every
kept file must be named for its bench and start, and carry the header, the command
and at least one figure.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from support.bench_results import problems, read_result

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench.harness import RunInfo, Transcript, result_text, write_result  # noqa: E402

INFO = RunInfo(
    bench="tester",
    command="python -m bench.tester --tests 60",
    commit="4a537c0 (with uncommitted changes)",
    started=datetime(2026, 12, 3, 9, 5, 7, tzinfo=UTC),
    finished=datetime(2026, 12, 3, 9, 6, 30, tzinfo=UTC),
    machine="2 CPUs, AMD EPYC",
    load_at_start="0.52 0.61 0.70",
    load_at_end="1.20 0.80 0.75",
)
TRANSCRIPT = Transcript(
    figures=["connmgr_postgres_tests_per_s: 213.00", "postgres_ratio: 0.4300"],
    notes=["note: load average at start: 0.52 0.61 0.70 (2 CPUs)"],
)
EXPECTED = """\
# bench: tester
# command: python -m bench.tester --tests 60
# commit: 4a537c0 (with uncommitted changes)
# started: 2026-12-03 09:05:07 UTC
# finished: 2026-12-03 09:06:30 UTC
# machine: 2 CPUs, AMD EPYC
# load average at start: 0.52 0.61 0.70
# load average at end: 1.20 0.80 0.75

connmgr_postgres_tests_per_s: 213.00
postgres_ratio: 0.4300

note: load average at start: 0.52 0.61 0.70 (2 CPUs)
"""


def test_a_result_file_is_the_header_then_the_figures_then_the_notes() -> None:
    assert result_text(INFO, TRANSCRIPT) == EXPECTED


def test_a_result_file_is_named_after_its_start_and_never_overwritten(tmp_path: Path) -> None:
    first = write_result(tmp_path, INFO, TRANSCRIPT)
    second = write_result(tmp_path, INFO, Transcript(figures=["postgres_ratio: 0.5000"]))
    assert (first.name, second.name) == (
        "tester-2026-12-03-0905.txt",
        "tester-2026-12-03-0905-2.txt",
    )
    assert first.read_text() == EXPECTED
    assert read_result(second).figures == {"postgres_ratio": 0.5}
    assert problems(first) == []
    assert problems(second) == []


def test_the_reader_finds_what_is_wrong_with_a_result_file(tmp_path: Path) -> None:
    misnamed = tmp_path / "tester-2026-12-03.txt"
    misnamed.write_text(EXPECTED)
    assert problems(misnamed) == [
        "tester-2026-12-03.txt: not named <bench>-<YYYY-MM-DD>-<HHMM>.txt"
    ]
    other_day = tmp_path / "tester-2026-12-04-0905.txt"
    other_day.write_text(EXPECTED.replace("# commit: 4a537c0 (with uncommitted changes)\n", ""))
    assert problems(other_day) == [
        "tester-2026-12-04-0905.txt: no '# commit:' line",
        "tester-2026-12-04-0905.txt: '# started:' is not on 2026-12-04",
    ]


def test_every_kept_result_file_is_named_for_its_bench_and_start_and_holds_figures() -> None:
    files = sorted(RESULTS.glob("*"))
    assert len(files) >= 6  # the runs once quoted in the READMEs, and those since
    assert [problem for path in files for problem in problems(path)] == []
