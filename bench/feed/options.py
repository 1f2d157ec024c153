"""The feed bench's options (``python -m bench.feed --help``) and its API's settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness import bench_parser, count, positive


@dataclass(frozen=True, slots=True)
class Options:
    streams: int
    events: int
    interval_s: float
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("feed")
    parser.add_argument("--streams", type=count, default=1000, help="event streams held open")
    parser.add_argument("--events", type=count, default=20, help="events appended, one at a time")
    parser.add_argument(
        "--interval", type=positive, default=0.5, help="seconds between two appended events"
    )
    args = parser.parse_args(argv)
    return Options(args.streams, args.events, args.interval, args.record)


def api_env(options: Options) -> dict[str, str]:
    """One token holds every stream: the per-token bound is raised to the run's count."""
    return {"CONNMGR_API_STREAMS_PER_TOKEN": str(options.streams)}
