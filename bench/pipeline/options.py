"""The pipeline bench's options (``python -m bench.pipeline --help``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.harness import add_log_level, amount, bench_parser, count, log_level_env, positive
from bench.pipeline.read_load import LOADERS, Loader

SYNC_OPTIONS: Final = {"default": "", "always": "sync_interval: always"}


def worker_env(options: Options) -> dict[str, str]:
    """What every worker of a run gets on top of the stack's settings."""
    return log_level_env(options.log_level)


@dataclass(frozen=True, slots=True)
class Options:
    commands: int
    rate: float
    connections: int
    duration: float
    api_duration: float
    api_concurrency: int
    loader: Loader
    nats_sync: str = "default"
    encryptors: int = 1
    record: Path | None = None
    reads_only: bool = False
    history: int = 0
    log_level: str = "warning"


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("pipeline")
    parser.add_argument("--commands", type=count, default=2000, help="commands per throughput run")
    parser.add_argument("--rate", type=positive, default=500.0, help="offered rate for latency, /s")
    parser.add_argument("--connections", type=count, default=10_000, help="stored for the API run")
    parser.add_argument("--duration", type=positive, default=10.0, help="latency run, seconds")
    parser.add_argument("--api-duration", type=positive, default=10.0, help="each HTTP load, s")
    parser.add_argument("--api-concurrency", type=count, default=32, help="HTTP connections")
    parser.add_argument("--encryptors", type=count, default=1, help="encryptor replicas")
    parser.add_argument("--loader", choices=LOADERS, default="auto", help="auto: wrk if installed")
    parser.add_argument(
        "--history",
        type=amount,
        default=0,
        help="commands already handled before the write runs, as on a system that has run "
        "a while (rows in handled_commands)",
    )
    add_log_level(parser)
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="only the read figures (no workers, no write runs): quick before/after runs",
    )
    parser.add_argument(
        "--nats-sync",
        choices=[*SYNC_OPTIONS, "compare"],
        default="default",
        help="nats-server sync_interval: its default (2 min), always (fsync every write), "
        "or compare: only the write figures, under each in turn",
    )
    args = parser.parse_args(argv)
    return Options(
        args.commands, args.rate, args.connections, args.duration, args.api_duration,
        args.api_concurrency, args.loader, args.nats_sync, args.encryptors, args.record,
        args.reads_only, args.history, args.log_level,
    )  # fmt: skip
