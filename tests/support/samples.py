"""Synthetic probe samples for the storage tests.

``SampleBuilder`` makes samples with unique check ids; ``store`` inserts a
batch. ``T0`` is an hour boundary tests place samples
relative to; ``ORDERS`` and ``BILLING`` are two connection ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import write_transaction
from connmgr.storage.packed_blocks import StoredSample, packed_of, read_blocks
from connmgr.storage.samples import NewSample, insert_samples
from connmgr.storage.tables import samples

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""An hour boundary; tests place samples relative to it."""

ORDERS = "11111111-1111-1111-1111-111111111111"
BILLING = "22222222-2222-2222-2222-222222222222"


class SampleBuilder:
    """Synthetic samples with unique check ids: ``at(moment, latency, ...)``."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def at(
        self,
        moment: datetime,
        latency_ms: float = 10.0,
        *,
        outcome: str = "ok",
        connection_id: str = ORDERS,
        tenant: str = "acme",
        check_id: str | None = None,
    ) -> NewSample:
        return NewSample(
            check_id=check_id or f"check-{next(self._numbers)}",
            connection_id=connection_id,
            tenant=tenant,
            checked_at=moment,
            outcome=outcome,
            latency_ms=latency_ms,
            phases={"connect": latency_ms / 2},
        )

    def spread(
        self, start: datetime, latencies: Iterable[float], step: timedelta, **options: Any
    ) -> list[NewSample]:
        """One sample per latency, ``step`` apart from ``start``."""
        return [
            self.at(start + i * step, latency, **options) for i, latency in enumerate(latencies)
        ]


async def store(engine: AsyncEngine, batch: list[NewSample]) -> set[str]:
    async with write_transaction(engine) as connection:
        return await insert_samples(connection, batch)


async def stored_samples(engine: AsyncEngine) -> list[StoredSample]:
    """Every sample stored, raw or packed, by check time (raw first on ties)."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(samples).order_by(samples.c.id))
        raw = [StoredSample(row.connection_id, row.tenant, packed_of(row)) for row in rows]
        packed = (await read_blocks(connection, [], None, None)).samples
    return sorted([*raw, *reversed(packed)], key=lambda stored: stored.sample.checked_at)
