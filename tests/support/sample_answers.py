"""Three hours of recorded samples, and every read the API makes of them.

Tests that store the same samples in different ways (raw rows, packed samples,
packed minute roll-ups) compare ``answers`` before and after: the same recorded
samples must give the same checks, statistics and roll-ups whichever way they are
stored.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.sample_history import recent_samples, rollups
from connmgr.storage.reads.sample_stats import connection_stats
from connmgr.storage.sample_codec import OUTCOMES
from connmgr.storage.samples import NewSample
from support.samples import BILLING, ORDERS, T0

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
END = T0 + 3 * HOUR
"""The end of the recorded samples."""


def recorded_samples() -> list[NewSample]:
    """Three hours of two connections of acme and one of globex, every 10 s: mixed
    outcomes, phases (one of a name the codec does not know), manual check ids,
    two checks at the same moment; latencies to the microsecond."""
    rng = random.Random(15)
    found: list[NewSample] = []
    sequence = 1000
    for step in range(3 * 360):
        for connection_id, tenant in ((ORDERS, "acme"), (BILLING, "acme"), (ORDERS, "globex")):
            sequence += rng.randint(1, 40)
            moment = T0 + step * 10 * SECOND + rng.randint(0, 900_000) * timedelta(microseconds=1)
            latency = rng.randint(300, 400_000) / 1000
            manual = rng.random() < 0.02
            found.append(
                NewSample(
                    check_id=f"manual-{sequence}" if manual else f"scheduled:{sequence}",
                    connection_id=connection_id,
                    tenant=tenant,
                    checked_at=moment,
                    outcome=rng.choice(OUTCOMES) if rng.random() < 0.1 else "ok",
                    latency_ms=latency,
                    phases={"connect": round(latency / 3, 3), "query": 0.5, "x-probe": 0.001}
                    if step % 7
                    else {},
                )
            )
    tie = found[-1]
    found.append(NewSample(**{**fields_of(tie), "check_id": "scheduled:999999999"}))
    return found


def fields_of(sample: NewSample) -> dict[str, Any]:
    return {name: getattr(sample, name) for name in NewSample.__slots__}


async def answers(engine: AsyncEngine) -> dict[str, Any]:
    """Every read the API makes, over ranges inside and across the packed hours."""
    found: dict[str, Any] = {}
    for tenant, connection_id in (("acme", ORDERS), ("acme", BILLING), ("globex", ORDERS)):
        key = f"{tenant}/{connection_id[:2]}"
        found[f"{key} newest"] = await recent_samples(engine, tenant, connection_id, limit=1000)
        for since, until in ((T0, T0 + HOUR), (T0 + 50 * MINUTE, T0 + 70 * MINUTE), (None, END)):
            found[f"{key} {since}-{until}"] = await recent_samples(
                engine, tenant, connection_id, since=since, until=until, limit=300
            )
        for resolution in ("minute", "hour"):
            found[f"{key} {resolution}"] = await rollups(
                engine, tenant, connection_id, resolution=resolution, since=T0, until=END
            )
    for tenant, connection_id in (("acme", ORDERS), ("acme", None), ("globex", None)):
        for window in (HOUR, 2 * HOUR + 30 * SECOND, DAY, 7 * DAY, 30 * DAY):
            for now in (T0 + 90 * MINUTE, END - 10 * MINUTE, END + 5 * MINUTE):
                stats = await connection_stats(engine, tenant, connection_id, window, now)
                found[f"{tenant}/{connection_id} {window} {now}"] = stats
    return found


def same_answers(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Equal answers; uptime (a float sum, in another order) to 12 significant digits."""
    assert after.keys() == before.keys()
    for key, value in before.items():
        if getattr(value, "uptime_percent", None) is not None:
            assert after[key].uptime_percent == pytest.approx(value.uptime_percent, rel=1e-12)
            value = value.model_copy(update={"uptime_percent": after[key].uptime_percent})
        assert after[key] == value, key
