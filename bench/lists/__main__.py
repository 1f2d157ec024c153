"""The lists bench: a page of the connection list, by filter, at a tenant's size.

    .venv/bin/python -m bench.lists [--connections 10000] [--neighbours 1] [--reads 12]
                                    [--record [DIR]]

It creates a fresh PostgreSQL database (dropped after), migrates it, and writes
``--connections`` connections of one tenant and as many for each of ``--neighbours``
other tenants (``harness.seeding``), then makes a few of the tenant's rare: ``RARE``
of them ``down`` (the tenant's other down ones ``unknown``) and ``RARE`` of them of kind
``smtp``. It then runs ``VACUUM ANALYZE``, as autovacuum would have, and reads pages
of 50 through ``reads.connection_pages.list_connections``, the statement behind
``GET /api/connections``, ``--reads`` times each. Figures, each a p50 in ms:

- ``connections_stored`` (every tenant's);
- ``list_first_page_ms_p50``: no filter;
- ``list_rare_status_ms_p50``, ``list_rare_kind_ms_p50``: ``status=down``,
  ``kind=smtp``, with ``RARE`` matches each;
- ``list_tag_ms_p50``: a tag on one connection in seven;
- ``list_q_one_ms_p50``, ``list_q_none_ms_p50``, ``list_q_common_ms_p50``: ``q`` a
  substring of one name, of none, and of every name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    amount,
    bench_main,
    bench_parser,
    count,
    count_rows,
    figure,
    migrated_database,
    percentile,
    phase,
    seed_connections,
    timed_reads,
)
from connmgr.storage.database import write_transaction
from connmgr.storage.reads.connection_pages import ConnectionFilter, list_connections
from connmgr.storage.reads.views import ConnectionPage
from connmgr.storage.tables import connections

TENANT: Final = "bench"
RARE: Final = 10
PAGE: Final = 50


@dataclass(frozen=True, slots=True)
class Options:
    connections: int
    neighbours: int
    reads: int
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("lists")
    parser.add_argument("--connections", type=count, default=10000)
    parser.add_argument("--neighbours", type=amount, default=1, help="other tenants as large")
    parser.add_argument("--reads", type=count, default=12, help="reads of each page")
    args = parser.parse_args(argv)
    if args.connections < RARE:
        parser.error(f"argument --connections: must be at least {RARE}")
    return Options(args.connections, args.neighbours, args.reads, args.record)


FILTERS: Final = {
    "list_first_page_ms_p50": ConnectionFilter(),
    "list_rare_status_ms_p50": ConnectionFilter(status="down"),
    "list_rare_kind_ms_p50": ConnectionFilter(kind="smtp"),
    "list_tag_ms_p50": ConnectionFilter(tag="team-3"),
    "list_q_one_ms_p50": ConnectionFilter(q="CONN-00042"),
    "list_q_none_ms_p50": ConnectionFilter(q="no-such-connection"),
    "list_q_common_ms_p50": ConnectionFilter(q="conn"),
}


async def run(options: Options) -> None:
    async with migrated_database() as (_, engine):
        tenants = [TENANT, *(f"neighbour-{n}" for n in range(options.neighbours))]
        with phase(f"{options.connections} connections for each of {len(tenants)} tenants"):
            for tenant in tenants:
                await seed_connections(engine, tenant, options.connections)
            await _make_rare(engine)
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
        stored = await count_rows(engine, connections)
        timings: dict[str, list[float]] = {}
        with phase(f"{options.reads} reads of each page"):
            for name, filters in FILTERS.items():

                async def page(filters: ConnectionFilter = filters) -> ConnectionPage:
                    return await list_connections(engine, TENANT, filters, limit=PAGE)

                found = _found_some if name != "list_q_none_ms_p50" else _found_none
                timings[name] = await timed_reads(page, options.reads, found=found)
    figure("connections_stored", stored)
    for name, elapsed in timings.items():
        figure(name, percentile(elapsed, 0.5))


async def _make_rare(engine: AsyncEngine) -> None:
    """``RARE`` of the tenant's connections down and ``RARE`` of kind smtp; no others."""
    c = connections.c
    ids = select(c.id).where(c.tenant == TENANT).order_by(c.id)
    async with write_transaction(engine) as connection:
        await connection.execute(
            update(connections)
            .where(c.tenant == TENANT, c.status == "down")
            .values(status="unknown")
        )
        chosen = list(await connection.scalars(ids.limit(2 * RARE)))
        await connection.execute(
            update(connections).where(c.id.in_(chosen[:RARE])).values(status="down")
        )
        await connection.execute(
            update(connections).where(c.id.in_(chosen[RARE:])).values(kind="smtp")
        )


def _found_some(page: ConnectionPage) -> bool:
    return bool(page.items)


def _found_none(page: ConnectionPage) -> bool:
    return not page.items


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("lists", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
