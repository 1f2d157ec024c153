"""What the tester recorded in a pass: its ``ConnectionTested`` events, read back.

- per kind, the ``latency_ms`` of each result (the check's own time: resolve,
  connect, log in, query, close) and how many outcomes were not ``ok``;
- how fast they were written. The recorder (one serial writer per tester
  process) appends the results of a batch one at a time in one transaction and
  stamps each ``recorded_at`` as it appends it, so the gap between consecutive
  stamps is what recording one result costs (savepoint, duplicate check, load the
  connection, append, fold into the projection, record the outcome); batch
  boundaries are the few other gaps, so the median gap is that cost.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

TESTED_AFTER: Final = text(
    "SELECT stream_id, data, recorded_at FROM events"
    " WHERE position > :after AND type = 'ConnectionTested' ORDER BY position"
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A pass's results per kind, and the gaps between consecutive appends."""

    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    not_ok: dict[str, int] = field(default_factory=dict)
    append_gaps_ms: list[float] = field(default_factory=list)

    @property
    def ms_per_result(self) -> float:
        """What appending one result costs the serial writer (the median gap)."""
        return statistics.median(self.append_gaps_ms) if self.append_gaps_ms else 0.0


async def read_recorded(engine: AsyncEngine, after: int, kind_of: Mapping[str, str]) -> Recorded:
    """The ``ConnectionTested`` events after log position ``after``."""
    async with engine.connect() as connection:
        rows = (await connection.execute(TESTED_AFTER, {"after": after})).all()
    recorded = Recorded()
    for row in rows:
        kind = kind_of.get(row.stream_id, "other")
        result: dict[str, Any] = row.data["result"]
        recorded.latencies_ms.setdefault(kind, []).append(float(result["latency_ms"]))
        recorded.not_ok[kind] = recorded.not_ok.get(kind, 0) + (result["outcome"] != "ok")
    for earlier, later in itertools.pairwise(rows):
        gap = later.recorded_at - earlier.recorded_at
        recorded.append_gaps_ms.append(gap.total_seconds() * 1000)
    return recorded
