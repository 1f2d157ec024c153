"""The tester bench's options (``python -m bench.tester --help``) and its workers' settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness import bench_parser, checker_env, count


@dataclass(frozen=True, slots=True)
class Options:
    tests: int
    concurrency: int
    per_target: int
    connections: int
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("tester")
    parser.add_argument("--tests", type=count, default=2000, help="test commands per pass")
    parser.add_argument("--concurrency", type=count, default=64, help="CONNMGR_TESTER_CONCURRENCY")
    parser.add_argument("--per-target", type=count, default=64, help="CONNMGR_TESTER_PER_TARGET")
    parser.add_argument("--connections", type=count, default=32, help="connections per kind")
    args = parser.parse_args(argv)
    if args.concurrency > 4096:
        parser.error("--concurrency is at most 4096 (the setting's bound)")
    return Options(args.tests, args.concurrency, args.per_target, args.connections, args.record)


def tester_env(options: Options) -> dict[str, str]:
    """Every connection of a kind shares one ``host:port``: the per-target cap is set
    as high as the concurrency, so the tester, not the cap, is measured."""
    return {
        **checker_env(options.concurrency),
        "CONNMGR_TESTER_PER_TARGET": str(options.per_target),
    }
