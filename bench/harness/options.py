"""What every bench's command line shares: its name, ``--record [DIR]``, and the
types of its numeric options (``python -m bench.<name> --help``; bench/README.md).

A count of things (commands, connections, replicas…) has the type ``count``, a
duration or a rate the type ``positive``: argparse then refuses ``0`` or ``-1``
with a usage error naming the option, before anything starts. A count that may be
zero (rows already there, say) has the type ``amount``. A bench that starts workers
takes ``--log-level`` (``add_log_level``) and gives them ``log_level_env``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.harness.results import RESULTS_DIR


def bench_parser(bench: str) -> argparse.ArgumentParser:
    """The command line every bench starts from: its name, and ``--record [DIR]``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m bench.{bench}", description=f"connmgr {bench} bench (see bench/README.md)"
    )
    parser.add_argument(
        "--record",
        nargs="?",
        const=RESULTS_DIR,
        type=Path,
        metavar="DIR",
        help="also write the figures to a dated result file in DIR (default: bench/results/)",
    )
    return parser


def count(text: str) -> int:
    """A count given on the command line: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def amount(text: str) -> int:
    """An amount given on the command line that may be none: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


def positive(text: str) -> float:
    """A duration or a rate given on the command line: a number above 0."""
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


LOG_LEVELS: Final = ("warning", "info")


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """``--log-level``: the workers' ``CONNMGR_LOG_LEVEL`` in a run."""
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="warning",
        help="the workers' CONNMGR_LOG_LEVEL: info is the shipped default (a line per "
        "command or check); warning, the default here, leaves those lines out",
    )


def log_level_env(level: str) -> dict[str, str]:
    """What a run's workers get for ``--log-level``."""
    return {"CONNMGR_LOG_LEVEL": level}
