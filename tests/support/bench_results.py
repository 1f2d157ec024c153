"""Reading the benches' result files (``bench/results/``, ``--record DIR``) in tests.

A result file is a header of ``# key: value`` lines, then the figures as the bench
printed them (``name: value``), then its notes (``note: …``), blocks apart by a
blank line; it is named ``<bench>-<YYYY-MM-DD>-<HHMM>.txt`` after the run's start
(UTC), with ``-2``, ``-3``… for another run of the same minute.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BENCHES: Final = (
    "pipeline",
    "tester",
    "prober",
    "feed",
    "console",
    "alerts",
    "scrape",
    "lists",
    "stats",
)
RESULT_NAME: Final = re.compile(
    r"^(?P<bench>[a-z]+)-(?P<date>\d{4}-\d{2}-\d{2})-(?P<time>\d{4})(?:-(?P<n>\d+))?\.txt$"
)
HEADER_LINE: Final = re.compile(r"^# (?P<key>[a-z ]+): (?P<value>.+)$")
FIGURE_LINE: Final = re.compile(r"^(?P<name>[a-z0-9_]+): (?P<value>-?\d+(?:\.\d+)?)$")
HEADER_KEYS: Final = (
    "bench",
    "command",
    "commit",
    "started",
    "load average at start",
    "load average at end",
)


@dataclass(frozen=True, slots=True)
class Result:
    header: dict[str, str]
    figures: dict[str, float]
    figure_lines: list[str]
    notes: list[str]
    other: list[str]  # lines of none of the three forms: there should be none


def read_result(path: Path) -> Result:
    header: dict[str, str] = {}
    figures: dict[str, float] = {}
    figure_lines: list[str] = []
    notes: list[str] = []
    other: list[str] = []
    for line in path.read_text().splitlines():
        if (head := HEADER_LINE.match(line)) is not None:
            header[head["key"]] = head["value"]
        elif (shown := FIGURE_LINE.match(line)) is not None:
            figures[shown["name"]] = float(shown["value"])
            figure_lines.append(line)
        elif line.startswith("note: "):
            notes.append(line)
        elif line.strip():
            other.append(line)
    return Result(header, figures, figure_lines, notes, other)


def problems(path: Path) -> list[str]:
    """What is wrong with a result file: its name, its header, its figures. Files
    converted from the figures ``bench/README.md`` once held name the command as it
    was then (``bench/<bench>.py``)."""
    name = RESULT_NAME.match(path.name)
    if name is None or name["bench"] not in BENCHES:
        return [f"{path.name}: not named <bench>-<YYYY-MM-DD>-<HHMM>.txt"]
    result = read_result(path)
    found = [f"{path.name}: no '# {key}:' line" for key in HEADER_KEYS if key not in result.header]
    runs_bench = re.compile(rf"-m bench\.{name['bench']}\b|bench/{name['bench']}\.py\b")
    if result.header.get("bench") != name["bench"]:
        found.append(f"{path.name}: '# bench:' is not {name['bench']}")
    if not result.header.get("started", "").startswith(name["date"]):
        found.append(f"{path.name}: '# started:' is not on {name['date']}")
    if not runs_bench.search(result.header.get("command", "")):
        found.append(f"{path.name}: '# command:' does not run the {name['bench']} bench")
    if not result.figures:
        found.append(f"{path.name}: no figure")
    found += [f"{path.name}: stray line {line!r}" for line in result.other]
    return found


LOAD_AVERAGE: Final = re.compile(r"^\d+\.\d{2} \d+\.\d{2} \d+\.\d{2}$")


def recording_problems(folder: Path, bench: str, argv: Sequence[str], stdout: str) -> list[str]:
    """What is wrong with what a run with ``--record folder`` wrote: one result file,
    its command line as run, the machine's load, and every figure the run printed."""
    files = sorted(folder.iterdir())
    if len(files) != 1:
        return [f"{len(files)} files in {folder}, not one result file"]
    found = problems(files[0])
    result = read_result(files[0])
    command = shlex.join(["python", "-m", f"bench.{bench}", *argv])
    if result.header.get("command") != command:
        found.append(f"command {result.header.get('command')!r}, not {command!r}")
    for key in ("load average at start", "load average at end"):
        if not LOAD_AVERAGE.match(result.header.get(key, "")):
            found.append(f"{key}: {result.header.get(key)!r}")
    printed = [line for line in stdout.splitlines() if FIGURE_LINE.match(line)]
    if result.figure_lines != printed:
        found.append(f"figures {result.figure_lines} but printed {printed}")
    return found


def printed_figures(stdout: str) -> dict[str, float]:
    """The ``name: value`` figures a run printed, by name."""
    matches = (FIGURE_LINE.match(line) for line in stdout.splitlines())
    return {match["name"]: float(match["value"]) for match in matches if match is not None}


ROOT: Final = Path(__file__).resolve().parents[2]


def recorded_tiny_run(
    bench: str, tiny: Sequence[str], figures: Sequence[str], folder: Path
) -> dict[str, float]:
    """Run ``python -m bench.<bench> <tiny> --record <folder>``: it must exit 0, print
    each of ``figures`` as a number and record exactly what it printed. Its figures."""
    argv = [*tiny, "--record", str(folder)]
    run = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    printed = printed_figures(run.stdout)
    missing = [name for name in figures if name not in printed]
    assert not missing, f"missing figures {missing} in:\n{run.stdout}\n{run.stderr[-3000:]}"
    assert recording_problems(folder, bench, argv, run.stdout) == []
    return printed
