"""The scrape bench: what one ``/metrics`` scrape costs the database at a fleet's size.

    .venv/bin/python -m bench.scrape [--connections 10000] [--samples 3] [--reads 10]
                                     [--record [DIR]]

It creates a fresh PostgreSQL database (dropped after), migrates it, and writes
``--connections`` connections of one tenant, each checked ``--samples`` times a
minute apart with the prober's state after the newest check (``seeding``). It then
runs ``ANALYZE``, as autovacuum would have, and reads the fleet gauges of
``api/connection_gauges.py`` ``--reads`` times each, the way every ``/metrics`` scrape
of every API process does. Figures:

- ``connections_stored``, ``samples_stored``;
- ``fleet_counts_ms_p50``: live connections by kind and status;
- ``latency_histogram_ms_p50``: live connections by their newest check's latency;
- ``checks_last_minute_ms_p50``: the last minute's samples by outcome;
- ``scrape_gauges_ms_p50`` / ``_max``: the three together, as ``ConnectionGauges.refresh``
  reads them for one scrape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import text

from bench.harness import (
    bench_main,
    bench_parser,
    count,
    count_rows,
    figure,
    migrated_database,
    percentile,
    phase,
    timed_reads,
)
from bench.scrape.seeding import seed_checked_fleet
from connmgr.api.connection_gauges import LATENCY_BUCKETS_S, ConnectionGauges
from connmgr.storage.reads import fleet_gauges
from connmgr.storage.tables import connections, samples

TENANT: Final = "bench"
BOUNDS_MS: Final = [bound * 1000.0 for bound in LATENCY_BUCKETS_S]


@dataclass(frozen=True, slots=True)
class Options:
    connections: int
    samples: int
    reads: int
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("scrape")
    parser.add_argument("--connections", type=count, default=10000)
    parser.add_argument("--samples", type=count, default=3, help="checks per connection")
    parser.add_argument("--reads", type=count, default=10, help="reads of each gauge")
    args = parser.parse_args(argv)
    return Options(args.connections, args.samples, args.reads, args.record)


async def run(options: Options) -> None:
    async with migrated_database() as (_, engine):
        label = f"{options.connections} connections checked {options.samples} times each"
        with phase(label):
            await seed_checked_fleet(engine, TENANT, options.connections, options.samples)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
        stored = await count_rows(engine, connections)
        sampled = await count_rows(engine, samples)
        since = datetime.now(UTC) - timedelta(minutes=1)
        gauges = ConnectionGauges(max_age_s=0)  # each scrape reads: what one read costs

        async def scrape() -> list[Any]:
            await gauges.refresh(engine)
            return list(gauges.collect())

        with phase(f"{options.reads} reads of each gauge"):
            counts = await timed_reads(
                lambda: fleet_gauges.fleet_counts(engine), options.reads, found=bool
            )
            histogram = await timed_reads(
                lambda: fleet_gauges.newest_latency_histogram(engine, BOUNDS_MS),
                options.reads,
                found=bool,
            )
            recent = await timed_reads(
                lambda: fleet_gauges.checks_since(engine, since), options.reads, found=bool
            )
            scrapes = await timed_reads(scrape, options.reads, found=bool)
    figure("connections_stored", stored)
    figure("samples_stored", sampled)
    figure("fleet_counts_ms_p50", percentile(counts, 0.5))
    figure("latency_histogram_ms_p50", percentile(histogram, 0.5))
    figure("checks_last_minute_ms_p50", percentile(recent, 0.5))
    figure("scrape_gauges_ms_p50", percentile(scrapes, 0.5))
    figure("scrape_gauges_ms_max", max(scrapes))


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("scrape", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
