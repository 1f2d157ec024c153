"""Checks, failures and uptime of a stats window, summed span by span.

**Uptime %** is a time-weighted success share: each observed minute (raw samples, per
connection) or roll-up bucket contributes its share of successful checks, weighted by
its length. Unlike ``success_rate`` (per check), a burst of checks in one minute
weighs no more than that minute.

A span is summed in SQL (``span_totals``), or, when it reaches packed hours
(``sample_stats``), in Python over the decoded checks (``raw_totals``) or packed
roll-up buckets (``rollup_codec.fold_rollups``): by the same buckets, to the same
figures.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.reads.stats_spans import StatsSpan
from connmgr.storage.rollups import BUCKET_WIDTHS, OK_OUTCOME
from connmgr.storage.tables import sample_rollups, samples

__all__ = ["Totals", "raw_totals", "span_totals"]

_MINUTE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class Totals:
    count: int = 0
    failures: int = 0
    up_s: float = 0.0
    observed_s: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            *(mine + theirs for mine, theirs in zip(astuple(self), astuple(other), strict=True))
        )


async def span_totals(connection: AsyncConnection, span: StatsSpan) -> Totals:
    """Checks, failures, and up and observed seconds of one span: a bucket is a
    roll-up, or for raw samples one connection's minute."""
    if span.resolution is None:
        seconds = _MINUTE_S
        c = samples.c
        failed = func.sum(case((c.outcome != OK_OUTCOME, 1), else_=0))
        buckets = select(func.count().label("n"), failed.label("f")).where(*span.where())
        buckets = buckets.group_by(c.connection_id, _minute_of(connection, c.checked_at))
    else:
        seconds = BUCKET_WIDTHS[span.resolution].total_seconds()
        r = sample_rollups.c
        buckets = select(r.count.label("n"), r.failures.label("f")).where(*span.where())
    b = buckets.subquery()
    share = cast(b.c.n - b.c.f, Float) / b.c.n
    query = select(func.sum(b.c.n), func.sum(b.c.f), func.sum(share), func.count())
    n, failures, shares, observed = (await connection.execute(query)).one()
    return Totals(int(n or 0), int(failures or 0), seconds * (shares or 0), seconds * observed)


def _minute_of(connection: AsyncConnection, moment: ColumnElement[Any]) -> ColumnElement[Any]:
    if connection.dialect.name == "postgresql":
        return func.date_trunc("minute", moment)
    return func.strftime("%Y-%m-%d %H:%M", moment)


def raw_totals(checks: list[tuple[str, datetime, str, float]]) -> Totals:
    """As ``span_totals`` of a raw span: one bucket per connection and minute."""
    buckets: dict[tuple[str, datetime], list[int]] = {}
    for connection_id, moment, outcome, _ in checks:
        minute = moment.replace(second=0, microsecond=0)
        counts = buckets.setdefault((connection_id, minute), [0, 0])
        counts[0] += 1
        counts[1] += outcome != OK_OUTCOME
    shares = sum((n - f) / n for n, f in (buckets[key] for key in sorted(buckets)))
    count = sum(n for n, _ in buckets.values())
    failures = sum(f for _, f in buckets.values())
    return Totals(count, failures, _MINUTE_S * shares, _MINUTE_S * len(buckets))
