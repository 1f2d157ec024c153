"""A bench's coroutine as the process's main: logging, signals, exit status, recording;
``bench_main``, every bench's ``main``."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bench.harness.errors import BenchError
from bench.harness.figures import keep_transcript, load_average, note
from bench.harness.results import Recording, RunInfo, git_commit, machine, write_result
from connmgr.runtime.logging import configure_logging
from connmgr.schemas.settings import Settings


class RecordOption(Protocol):
    """A bench's parsed options: at least ``--record [DIR]``."""

    @property
    def record(self) -> Path | None: ...


OptionsT = TypeVar("OptionsT", bound=RecordOption)


def bench_main(
    bench: str,
    parse: Callable[[Sequence[str] | None], OptionsT],
    run: Callable[[OptionsT], Coroutine[Any, Any, None]],
    argv: Sequence[str] | None,
) -> int:
    """A bench's ``main``: its command line parsed (``argv``, ``sys.argv[1:]`` when
    ``None``), then ``run`` of those options under ``run_bench``, recorded in
    ``--record``'s folder when given. The exit status."""
    options = parse(argv)
    return run_bench(run(options), Recording(bench, argv, options.record))


def run_bench(bench: Coroutine[Any, Any, None], recording: Recording) -> int:
    """Run a bench's coroutine as the process's main: its exit status.

    Logging as the workers do (warnings, console); SIGTERM cancels the run, so every
    ``async with`` in it stops what it started. 1 on ``BenchError`` (said on stderr),
    130 on Ctrl-C, 143 on SIGTERM. The machine's load average is noted at the start
    and the end. A run that succeeds, with ``recording.folder`` set, writes its
    result file there (a failed run writes none).
    """
    configure_logging(Settings(log_level="warning", log_format="console"))
    transcript = keep_transcript()
    started, load_at_start = datetime.now(UTC), load_average()
    note(f"load average at start: {load_at_start} ({os.cpu_count()} CPUs)")
    code = _run(bench)
    load_at_end = load_average()
    note(f"load average at end: {load_at_end}")
    if code == 0 and recording.folder is not None:
        argv = sys.argv[1:] if recording.argv is None else recording.argv
        command = shlex.join(["python", "-m", f"bench.{recording.bench}", *argv])
        info = RunInfo(
            recording.bench, command, git_commit(), started, datetime.now(UTC),
            machine(), load_at_start, load_at_end,
        )  # fmt: skip
        note(f"figures recorded in {write_result(recording.folder, info, transcript)}")
    return code


def _run(bench: Coroutine[Any, Any, None]) -> int:
    """The coroutine as the process's main task, SIGTERM cancelling it: its exit status."""

    async def cancellable() -> None:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await bench

    try:
        asyncio.run(cancellable())
    except BenchError as error:
        sys.stderr.write(f"bench failed: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return 143  # SIGTERM
    return 0
