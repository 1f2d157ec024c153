"""Latency percentiles of a stats window: nearest-rank over weighted points.

A raw sample is one point at its latency. A roll-up of ``n`` checks is four points:
``0.50 n`` at its p50, ``0.45 n`` at its p95, ``0.04 n`` at its p99 and ``0.01 n`` at
its max — every check is moved up to the top of its quantile band. So figures from
raw samples are exact, those from one bucket reproduce its percentiles, and over many
buckets the estimate errs high, never low (a slow hour is not averaged away).

The points of every span are ranked in SQL (``latency_percentiles``), or, when a span
reaches packed hours (``sample_stats``), in Python (``weighted_percentiles``; packed
roll-up buckets weigh ``BAND_WEIGHTS``): by the same rule, to the same figures.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Select, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.storage.reads.stats_spans import StatsSpan
from connmgr.storage.rollups import PERCENTILES
from connmgr.storage.tables import sample_rollups, samples

__all__ = ["BAND_WEIGHTS", "latency_percentiles", "latency_points", "weighted_percentiles"]

_BANDS: Final = (
    ("latency_p50_ms", 50),
    ("latency_p95_ms", 45),
    ("latency_p99_ms", 4),
    ("latency_max_ms", 1),
)
BAND_WEIGHTS: Final = tuple(weight for _, weight in _BANDS)
"""A roll-up's point weights per check, p50 to max (packed buckets: ``rollup_codec``)."""


async def latency_percentiles(
    connection: AsyncConnection, spans: list[StatsSpan]
) -> tuple[float | None, ...]:
    """Weighted nearest-rank p50/p95/p99 over every span's points (module contract).
    Weights are integers (a raw sample weighs 100), so ranks are exact."""
    p = union_all(*(point for span in spans for point in latency_points(span))).subquery()
    running = select(
        p.c.value,
        func.sum(p.c.weight).over(order_by=p.c.value, rows=(None, 0)).label("running"),
        func.sum(p.c.weight).over().label("total"),
    ).subquery()
    reached = (100 * running.c.running >= percent * running.c.total for percent in PERCENTILES)
    query = select(*(func.min(case((rank, running.c.value))) for rank in reached))
    return tuple((await connection.execute(query)).one())


def latency_points(span: StatsSpan) -> list[Select[Any]]:
    """``(value, weight)`` rows: a raw sample weighs 100; a roll-up of ``n`` checks is
    ``50n`` at p50, ``45n`` at p95, ``4n`` at p99 and ``n`` at max."""
    if span.resolution is None:
        raw = select(samples.c.latency_ms.label("value"), literal(100).label("weight"))
        return [raw.where(*span.where())]
    r = sample_rollups.c
    return [
        select(r[column].label("value"), (r.count * weight).label("weight")).where(*span.where())
        for column, weight in _BANDS
    ]


def weighted_percentiles(points: list[tuple[float, int]]) -> tuple[float | None, ...]:
    """As ``latency_percentiles``: the smallest value whose running weight reaches each rank."""
    if not points:
        return (None,) * len(PERCENTILES)
    ordered = sorted(points)
    total = sum(weight for _, weight in ordered)
    found: list[float | None] = []
    for percent in PERCENTILES:
        running = 0
        for value, weight in ordered:
            running += weight
            if 100 * running >= percent * total:
                found.append(value)
                break
    return tuple(found)
