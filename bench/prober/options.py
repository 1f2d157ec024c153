"""The prober bench's options (``python -m bench.prober --help``) and its workers' settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness import add_log_level, bench_parser, checker_env, count, log_level_env, positive


@dataclass(frozen=True, slots=True)
class Options:
    connections: int
    interval: int
    duration: float
    replicas: int
    target_ports: int
    concurrency: int
    keep: Path | None = None
    record: Path | None = None
    storage_only: bool = False
    hours: int = 2
    log_level: str = "warning"
    reconcile_only: bool = False


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("prober")
    parser.add_argument("--connections", type=count, default=10_000, help="connections probed")
    parser.add_argument("--interval", type=int, default=10, help="check interval, s (>= 10)")
    parser.add_argument("--duration", type=positive, default=300.0, help="measured window, s")
    parser.add_argument("--replicas", type=count, default=2, help="prober processes")
    parser.add_argument("--target-ports", type=count, default=8, help="ports per tcp/http target")
    parser.add_argument("--concurrency", type=count, default=64, help="CONNMGR_TESTER_CONCURRENCY")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep logs and the NATS store in this new folder"
    )
    parser.add_argument(
        "--storage-only",
        action="store_true",
        help="no probers: fill --hours of samples and measure them packed (prober/packing.py)",
    )
    parser.add_argument("--hours", type=count, default=2, help="hours filled by --storage-only")
    parser.add_argument(
        "--reconcile-only",
        action="store_true",
        help="no probers: time the schedule keeper's start-up reconcile (prober/reconcile.py)",
    )
    add_log_level(parser)
    args = parser.parse_args(argv)
    if args.interval < 10:
        parser.error("--interval must be at least 10 (the schema's minimum)")
    if args.storage_only and args.reconcile_only:
        parser.error("--storage-only and --reconcile-only are separate runs")
    return Options(
        args.connections, args.interval, args.duration, args.replicas, args.target_ports,
        args.concurrency, args.keep, args.record, args.storage_only, args.hours, args.log_level,
        args.reconcile_only,
    )  # fmt: skip


def prober_env(options: Options) -> dict[str, str]:
    """Every worker may check loopback targets; the probers run ``--concurrency`` checks,
    logging at ``--log-level``."""
    return {**checker_env(options.concurrency), **log_level_env(options.log_level)}
