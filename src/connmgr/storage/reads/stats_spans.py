"""A stats window cut into spans, each read from one table: roll-ups or raw samples.

A long window read from raw samples alone would read every check of days or weeks;
the roll-ups hold the same figures a bucket at a time. So ``plan_spans`` cuts the
window, by its length, into roll-up spans (coarsest first, each up to its resolution's
checkpoint) and the raw tail after them; ``sample_stats`` has the table of which
window reads what. Every figure (``stats_totals``, ``stats_percentiles``) is then
summed span by span, each span's rows selected by ``StatsSpan.where``.

A roll-up bucket belongs to a span when its start lies in it, so the window's old edge
is in effect rounded up to the next bucket boundary (at most one minute or one hour
shorter).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement

from connmgr.storage.reads.tenant_scope import tenant_scope
from connmgr.storage.rollups import Resolution
from connmgr.storage.sample_packing import RAW_KEPT_FOR
from connmgr.storage.tables import sample_rollups, samples

__all__ = ["MINUTES_UP_TO", "RAW_ONLY_UP_TO", "StatsSpan", "plan_spans"]

RAW_ONLY_UP_TO: Final = RAW_KEPT_FOR
MINUTES_UP_TO: Final = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class StatsSpan:
    """Part of a stats window: ``[since, until)`` of the tenant (and connection), read
    from roll-ups of ``resolution``, or from raw samples when it is None."""

    tenant: str
    connection_id: str | None
    resolution: Resolution | None
    since: datetime
    until: datetime

    def where(self) -> list[ColumnElement[bool]]:
        if self.resolution is None:
            moment = samples.c.checked_at
            conditions = tenant_scope(samples, self.tenant, self.connection_id)
        else:
            moment = sample_rollups.c.bucket_start
            conditions = tenant_scope(sample_rollups, self.tenant, self.connection_id)
            conditions.append(sample_rollups.c.resolution == self.resolution)
        return [*conditions, moment >= self.since, moment < self.until]


def plan_spans(window: StatsSpan, checkpoints: dict[Resolution, datetime]) -> list[StatsSpan]:
    """Cut the raw ``window`` into roll-up spans, coarsest first and each up to its
    checkpoint, and the raw tail after them (see the module contract)."""
    length = window.until - window.since
    if length <= RAW_ONLY_UP_TO:
        tiers: tuple[Resolution, ...] = ()
    else:
        tiers = ("minute",) if length <= MINUTES_UP_TO else ("hour", "minute")
    spans: list[StatsSpan] = []
    cursor = window.since
    for resolution in tiers:
        rolled_until = checkpoints.get(resolution)
        if rolled_until is not None and rolled_until > cursor:
            end = min(rolled_until, window.until)
            spans.append(replace(window, resolution=resolution, since=cursor, until=end))
            cursor = end
    return [*spans, replace(window, since=cursor)]
