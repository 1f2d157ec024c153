"""The alerts bench: one page of the alerts list against a long alert history.

    .venv/bin/python -m bench.alerts [--connections 1000] [--rounds 20] [--noise 4]
                                     [--neighbours 1] [--reads 20] [--record [DIR]]

It creates a fresh PostgreSQL database (dropped after), migrates it, and appends
``--rounds`` alerts to each of ``--connections`` connections of one tenant, with
``--noise`` status changes between each raise and its resolution (``seeding``; one
connection in ten keeps its last alert open), and the same history for each of
``--neighbours`` other tenants. It then runs ``ANALYZE``, as autovacuum would have
on a log that grew this much, and reads pages of 50 through
``reads.connection_health.list_alerts``, the statement behind
``GET /api/connections/health/alerts``, ``--reads`` times each. Figures:

- ``alerts_stored`` (the tenant's), ``events_stored`` (every tenant's);
- ``alerts_first_page_ms_p50`` / ``_max``: the first page (open alerts first);
- ``alerts_resolved_page_ms_p50``: the second page of ``state=resolved``, by cursor;
- ``alerts_one_connection_ms_p50``: the first page of one connection's alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import func, select, text

from bench.alerts.seeding import seed_alert_history
from bench.harness import (
    amount,
    bench_main,
    bench_parser,
    count,
    figure,
    migrated_database,
    percentile,
    phase,
    timed_reads,
)
from connmgr.storage.reads.connection_health import AlertPage, list_alerts
from connmgr.storage.tables import connections, events

TENANT: Final = "bench"
PAGE: Final = 50


@dataclass(frozen=True, slots=True)
class Options:
    connections: int
    rounds: int
    noise: int
    neighbours: int
    reads: int
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("alerts")
    parser.add_argument("--connections", type=count, default=1000)
    parser.add_argument("--rounds", type=count, default=20, help="alerts per connection")
    parser.add_argument(
        "--noise", type=amount, default=4, help="status changes between a raise and its resolve"
    )
    parser.add_argument(
        "--neighbours", type=amount, default=1, help="other tenants with the same history"
    )
    parser.add_argument("--reads", type=count, default=20, help="reads of each page")
    args = parser.parse_args(argv)
    return Options(
        args.connections, args.rounds, args.noise, args.neighbours, args.reads, args.record
    )


async def run(options: Options) -> None:
    async with migrated_database() as (_, engine):
        label = f"appending {options.rounds} alerts to {options.connections} connections"
        tenants = [TENANT, *(f"neighbour-{n}" for n in range(options.neighbours))]
        with phase(f"{label}, for {len(tenants)} tenants"):
            for tenant in tenants:
                alerts = await seed_alert_history(
                    engine, tenant, options.connections, options.rounds, options.noise
                )
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            stored = await connection.scalar(select(func.count()).select_from(events))
            one = await connection.scalar(select(connections.c.id).limit(1))
        now = datetime.now(UTC)
        first = await list_alerts(engine, TENANT, now, limit=PAGE, state="resolved")

        async def first_page() -> AlertPage:
            return await list_alerts(engine, TENANT, now, limit=PAGE)

        async def resolved_page() -> AlertPage:
            cursor = first.next_cursor
            return await list_alerts(
                engine, TENANT, now, limit=PAGE, state="resolved", cursor=cursor
            )

        async def one_connection() -> AlertPage:
            return await list_alerts(engine, TENANT, now, limit=PAGE, connection_id=one)

        with phase(f"{options.reads} reads of each page"):
            firsts = await timed_reads(first_page, options.reads, found=_full)
            resolved = await timed_reads(resolved_page, options.reads, found=_full)
            single = await timed_reads(one_connection, options.reads, found=_full)
    figure("alerts_stored", alerts)
    figure("events_stored", stored or 0)
    figure("alerts_first_page_ms_p50", percentile(firsts, 0.5))
    figure("alerts_first_page_ms_max", max(firsts))
    figure("alerts_resolved_page_ms_p50", percentile(resolved, 0.5))
    figure("alerts_one_connection_ms_p50", percentile(single, 0.5))


def _full(page: AlertPage) -> bool:
    return bool(page.items)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("alerts", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
