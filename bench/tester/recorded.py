"""What the tester recorded in a pass: its ``ConnectionTested`` events, read back.

- per kind, the ``latency_ms`` of each result (the check's own time: resolve,
  connect, log in, query, close) and how many outcomes were not ``ok``;
- how they were written. The recorder writes each flush of its micro-batcher in
  one transaction, and every event of a flush carries that flush's one
  ``recorded_at``: the distinct stamps count the flushes, and results per flush
  say how much each transaction (and the chain head it takes) was shared.
"""

from __future__ import annotations

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
    flushes: int = 0

    @property
    def results(self) -> int:
        return sum(len(latencies) for latencies in self.latencies_ms.values())

    @property
    def results_per_flush(self) -> float:
        """Results written per recorder transaction, on average."""
        return self.results / self.flushes if self.flushes else 0.0


async def read_recorded(engine: AsyncEngine, after: int, kind_of: Mapping[str, str]) -> Recorded:
    """The ``ConnectionTested`` events after log position ``after``."""
    async with engine.connect() as connection:
        rows = (await connection.execute(TESTED_AFTER, {"after": after})).all()
    recorded = Recorded(flushes=len({row.recorded_at for row in rows}))
    for row in rows:
        kind = kind_of.get(row.stream_id, "other")
        result: dict[str, Any] = row.data["result"]
        recorded.latencies_ms.setdefault(kind, []).append(float(result["latency_ms"]))
        recorded.not_ok[kind] = recorded.not_ok.get(kind, 0) + (result["outcome"] != "ok")
    return recorded
