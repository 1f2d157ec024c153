"""Result files: with ``--record [DIR]`` a run that succeeds keeps its figures.

They go to ``DIR/<bench>-<YYYY-MM-DD>-<HHMM>.txt`` (UTC; ``DIR`` is ``bench/results/``
by default), under a header of ``# key: value`` lines: the bench, the command line,
the git commit, when it ran, the machine's CPUs and its load average
(``result_text``); then the figures as printed, then the notes.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from bench.harness.figures import Transcript

BENCH_DIR: Final = Path(__file__).resolve().parents[1]
REPO_ROOT: Final = BENCH_DIR.parent
RESULTS_DIR: Final = BENCH_DIR / "results"


@dataclass(frozen=True, slots=True)
class Recording:
    """Where a run's result file goes (``folder``), and what it was run with (``argv``:
    the options, ``sys.argv[1:]`` when ``None``)."""

    bench: str
    argv: Sequence[str] | None
    folder: Path | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The header of a result file."""

    bench: str
    command: str
    commit: str
    started: datetime
    finished: datetime
    machine: str
    load_at_start: str
    load_at_end: str


def result_text(info: RunInfo, transcript: Transcript) -> str:
    """A result file: ``# key: value`` header lines, the figures as printed, the notes."""
    header = [
        f"# bench: {info.bench}",
        f"# command: {info.command}",
        f"# commit: {info.commit}",
        f"# started: {info.started:%Y-%m-%d %H:%M:%S} UTC",
        f"# finished: {info.finished:%Y-%m-%d %H:%M:%S} UTC",
        f"# machine: {info.machine}",
        f"# load average at start: {info.load_at_start}",
        f"# load average at end: {info.load_at_end}",
    ]
    blocks = [header, transcript.figures, transcript.notes]
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


def write_result(folder: Path, info: RunInfo, transcript: Transcript) -> Path:
    """``folder/<bench>-<YYYY-MM-DD>-<HHMM>.txt`` (the start, UTC); ``-2``, ``-3``… after
    the minute when a run of that minute is already there. Never overwrites."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{info.bench}-{info.started:%Y-%m-%d-%H%M}"
    for suffix in itertools.chain([""], (f"-{n}" for n in itertools.count(2))):
        path = folder / f"{stem}{suffix}.txt"
        try:
            with path.open("x") as out:
                out.write(result_text(info, transcript))
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")  # pragma: no cover


def machine() -> str:
    """How many CPUs, and which model (``/proc/cpuinfo``): runs compare on one machine."""
    models = [
        line.partition(":")[2].strip()
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
        if line.startswith("model name")
    ]
    return f"{os.cpu_count()} CPUs, {models[0] if models else 'model unknown'}"


def git_commit() -> str:
    """The checkout's commit, and whether tracked files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if changed else commit
