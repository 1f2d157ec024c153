"""Judging the measured window from the ``samples`` table.

Each connection's schedule fires at ``phase + k * interval`` (``fleet.read_phases``).
A sample ``scheduled:<seq>`` belongs to the slot its firing was stored in (the
``SeqTimeline`` says when), so a late check still counts for its own interval.
For the slots that fall in the window ``[w0, w1)``:

- ``expected``: slots of all connections; ``missed``: slots without a sample
  once the run has waited for the last ones (a check that far behind is as good
  as missed); ``doubled``: samples beyond the first in one slot (two firings for
  one interval, or one firing recorded twice); ``duplicate_sequences``: a stream
  sequence stored twice (the unique ``check_id`` should make it impossible).

For the samples checked during the window (``w0 <= checked_at < w1``; in a
steady state the same checks, and under overload still a true picture):

- ``lags_ms``: ``checked_at`` minus the slot time: how long after its scheduled
  moment the check had finished — broker firing, delivery, queueing in the
  prober, its database reads and the check itself (a loopback check takes ~1 ms);
- ``fire_delays_ms``: when the firing was stored minus the slot time (the
  broker's own part, resolution one timeline poll), for firings after the last
  schedule message (an earlier one may have fired on a phase since replaced;
  for ``lags_ms`` that error is under one interval);
- ``jitter_ms``: ``|spacing - interval|`` of consecutive samples of a connection.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.harness import BenchError, note, poll
from bench.prober.meters import SeqTimeline
from connmgr.storage.packed_blocks import blocks_checkpoint, read_blocks
from connmgr.storage.sample_codec import SCHEDULED_PREFIX

SEQ_OF_CHECK_ID: Final = "CAST(substr(check_id, 11) AS BIGINT)"  # after 'scheduled:'


@dataclass(frozen=True, slots=True)
class Sample:
    connection_id: str
    seq: int
    checked_at: float  # Unix seconds


@dataclass
class WindowFigures:
    expected: int = 0
    missed: int = 0
    doubled: int = 0
    duplicate_sequences: int = 0
    in_window: int = 0  # samples whose checked_at falls in [w0, w1)
    lags_ms: list[float] = field(default_factory=list)
    fire_delays_ms: list[float] = field(default_factory=list)
    jitter_ms: list[float] = field(default_factory=list)
    lags_by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


async def count_recorded(engine: AsyncEngine, after_seq: int, up_to_seq: int) -> int:
    query = text(
        f"SELECT count(*) FROM samples WHERE check_id LIKE 'scheduled:%' "
        f"AND {SEQ_OF_CHECK_ID} > :after AND {SEQ_OF_CHECK_ID} <= :up_to"
    )
    async with engine.connect() as connection:
        found = await connection.scalar(query, {"after": after_seq, "up_to": up_to_seq})
        packed = [seq for _, seq, _ in await _packed_scheduled(connection, None)]
    return int(found or 0) + sum(after_seq < seq <= up_to_seq for seq in packed)


async def wait_until_recorded(
    engine: AsyncEngine, after_seq: int, up_to_seq: int, check: Callable[[], None], timeout_s: float
) -> None:
    """Until every firing ``after_seq < seq <= up_to_seq`` has its sample, or ``timeout_s``
    (then the rest count as missed). Every sequence there is a firing: nothing else
    is published to the command stream once the schedules are in place."""
    wanted = up_to_seq - after_seq

    async def recorded() -> str | None:
        found = await count_recorded(engine, after_seq, up_to_seq)
        return None if found >= wanted else f"{wanted - found} of {wanted} firings had no sample"

    if (missing := await poll(recorded, check, timeout_s, poll_s=0.25)) is not None:
        note(f"{missing} {timeout_s:.0f}s later")


async def load_samples(engine: AsyncEngine, since: float) -> list[Sample]:
    """Every scheduled sample checked at or after ``since`` (Unix seconds)."""
    query = text(
        f"SELECT connection_id, {SEQ_OF_CHECK_ID} AS seq, "
        f"extract(epoch FROM checked_at) AS checked_at FROM samples "
        f"WHERE check_id LIKE 'scheduled:%' AND checked_at >= to_timestamp(:since)"
    )
    async with engine.connect() as connection:
        rows = await connection.execute(query, {"since": since})
        found = [Sample(row.connection_id, int(row.seq), float(row.checked_at)) for row in rows]
        moment = datetime.fromtimestamp(since, UTC)
        packed = await _packed_scheduled(connection, moment)
    return found + [Sample(*fields) for fields in packed]


async def _packed_scheduled(
    connection: AsyncConnection, since: datetime | None
) -> list[tuple[str, int, float]]:
    """``(connection, sequence, checked_at)`` of the scheduled samples already packed
    (a run longer than the packing delay, ``storage.sample_packing``)."""
    if await blocks_checkpoint(connection) is None:
        return []
    page = await read_blocks(connection, [], since, None)
    return [
        (
            s.connection_id,
            int(s.sample.check_id[len(SCHEDULED_PREFIX) :]),
            s.sample.checked_at.timestamp(),
        )
        for s in page.samples
        if s.sample.check_id.startswith(SCHEDULED_PREFIX)
    ]


@dataclass(frozen=True, slots=True)
class Schedule:
    phases: Mapping[str, float]
    kinds: Mapping[str, str]
    interval_s: float
    w0: float
    w1: float
    settled: float  # the last schedule message: earlier firings may have had another phase

    def slot_index(self, connection_id: str, moment: float) -> int:
        """The index of the latest slot of the connection at or before ``moment``."""
        return math.floor((moment - self.phases[connection_id]) / self.interval_s)

    def window_slots(self, connection_id: str) -> range:
        phase = self.phases[connection_id]
        first = math.ceil((self.w0 - phase) / self.interval_s)
        return range(first, math.ceil((self.w1 - phase) / self.interval_s))

    def slot_time(self, connection_id: str, index: int) -> float:
        return self.phases[connection_id] + index * self.interval_s


def judge(samples: Sequence[Sample], schedule: Schedule, timeline: SeqTimeline) -> WindowFigures:
    """Judge ``samples`` (every scheduled one checked at or after ``w0``)."""
    figures = WindowFigures()
    seqs = Counter(sample.seq for sample in samples)
    figures.duplicate_sequences = sum(count - 1 for count in seqs.values())
    per_slot: Counter[tuple[str, int]] = Counter()
    by_connection: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        stored = timeline.stored_by(sample.seq)
        index = schedule.slot_index(sample.connection_id, stored)
        if index in schedule.window_slots(sample.connection_id):
            per_slot[(sample.connection_id, index)] += 1
        if schedule.w0 <= sample.checked_at < schedule.w1:
            _checked_in_window(figures, schedule, sample, stored, index)
            by_connection[sample.connection_id].append(sample.checked_at)
    for connection_id in schedule.phases:
        for index in schedule.window_slots(connection_id):
            figures.expected += 1
            found = per_slot.get((connection_id, index), 0)
            figures.missed += found == 0
            figures.doubled += max(0, found - 1)
    for moments in by_connection.values():
        moments.sort()
        spacing = (later - earlier for earlier, later in itertools.pairwise(moments))
        figures.jitter_ms.extend(abs(gap - schedule.interval_s) * 1000 for gap in spacing)
    if not figures.lags_ms:
        raise BenchError("no check was recorded during the measured window")
    return figures


def _checked_in_window(
    figures: WindowFigures, schedule: Schedule, sample: Sample, stored: float, index: int
) -> None:
    slot = schedule.slot_time(sample.connection_id, index)
    lag = (sample.checked_at - slot) * 1000
    figures.in_window += 1
    figures.lags_ms.append(lag)
    figures.lags_by_kind[schedule.kinds[sample.connection_id]].append(lag)
    if stored >= schedule.settled:
        figures.fire_delays_ms.append((stored - slot) * 1000)
