"""The packed encoding of one connection's roll-ups for one block (``rollup_blocks``):
its minute buckets of an hour, or its hour buckets of a day (``SHAPES``).

Sealed as ``varint_blocks`` seals it (a format byte, varints plain or deflated).
After the number of buckets, per bucket in time order:

- **slot**: the first bucket's slot (minute of the hour, hour of the day), then
  each one's slots after the previous one (a steady check costs one byte);
- **count** and **failures**;
- **latencies** in microseconds: p50, then p95 - p50, p99 - p95 and max - p99, each
  at least 0 since nearest-rank percentiles of one bucket are ordered.

Every number is a varint, seven a bucket, so a block decodes in one pass over its
bytes (``fold_rollups`` folds a block into a window's figures without building its
buckets). Roll-up latencies are latencies of raw samples, rounded to the microsecond
on the way in (``sample_codec``), so a decoded bucket equals the row it was packed
from. Choice and figures: docs/decisions.md, "Roll-ups are packed by the hour and
the day".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from connmgr.storage.rollups import Resolution
from connmgr.storage.sample_codec import to_micros
from connmgr.storage.varint_blocks import CorruptBlock, VarintWriter, seal, unseal

__all__ = [
    "SHAPES",
    "BlockShape",
    "PackedRollup",
    "decode_rollups",
    "encode_rollups",
    "fold_rollups",
]

_FIELDS: Final = 7


@dataclass(frozen=True, slots=True)
class BlockShape:
    """A block of ``slots`` buckets of ``width``: it spans ``width * slots``."""

    width: timedelta
    slots: int

    @property
    def span(self) -> timedelta:
        return self.width * self.slots


SHAPES: Final[dict[Resolution, BlockShape]] = {
    "minute": BlockShape(timedelta(minutes=1), 60),
    "hour": BlockShape(timedelta(hours=1), 24),
}
"""Minute buckets are packed by the hour, hour buckets by the (UTC) day."""


@dataclass(frozen=True, slots=True)
class PackedRollup:
    """One bucket as a block holds it; the block gives connection and tenant."""

    bucket_start: datetime
    count: int
    failures: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float

    def latencies_us(self) -> tuple[int, int, int, int]:
        return (
            to_micros(self.latency_p50_ms),
            to_micros(self.latency_p95_ms),
            to_micros(self.latency_p99_ms),
            to_micros(self.latency_max_ms),
        )


def encode_rollups(shape: BlockShape, start: datetime, buckets: list[PackedRollup]) -> bytes:
    """The block of ``buckets`` (by time, each a slot of the block at ``start``)."""
    writer = VarintWriter()
    writer.varint(len(buckets))
    previous: int | None = None
    for bucket in buckets:
        slot, rest = divmod(bucket.bucket_start - start, shape.width)
        if rest or not (-1 if previous is None else previous) < slot < shape.slots:
            raise ValueError("buckets must be distinct whole slots of the block, in order")
        if not 0 <= bucket.failures <= bucket.count or not bucket.count:
            raise ValueError("a bucket holds at least one check, and no more failures")
        writer.varint(slot if previous is None else slot - previous)
        previous = slot
        writer.varint(bucket.count)
        writer.varint(bucket.failures)
        p50, p95, p99, top = bucket.latencies_us()
        for value in (p50, p95 - p50, p99 - p95, top - p99):
            writer.varint(value)
    return seal(bytes(writer.out))


def decode_rollups(shape: BlockShape, start: datetime, block: bytes) -> list[PackedRollup]:
    """The buckets of ``block``, in time order. Raises ``CorruptBlock``."""
    return [
        PackedRollup(start + slot * shape.width, count, failures, *(v / 1000 for v in latencies))
        for slot, count, failures, *latencies in _buckets(shape, block)
    ]


def fold_rollups(
    shape: BlockShape,
    block: bytes,
    first: int,
    stop: int,
    bands: Sequence[int],
    weights: Counter[float],
) -> tuple[int, int, float, int]:
    """Fold the buckets of ``block`` whose slot is in ``[first, stop)`` without
    building them: add each one's latencies to ``weights``, p50, p95, p99 and max
    weighing ``bands`` x its count; return its count, failures, the sum of their
    success shares and how many buckets. Raises ``CorruptBlock``."""
    count_sum = failure_sum = observed = 0
    shares = 0.0
    for slot, count, failures, *latencies in _buckets(shape, block):
        if first <= slot < stop:
            count_sum += count
            failure_sum += failures
            shares += (count - failures) / count
            observed += 1
            for value, band in zip(latencies, bands, strict=True):
                weights[value / 1000] += band * count
    return count_sum, failure_sum, shares, observed


def _buckets(shape: BlockShape, block: bytes) -> Iterator[tuple[int, int, int, int, int, int, int]]:
    """``(slot, count, failures, p50, p95, p99, max)`` of each bucket, latencies in
    microseconds. Raises ``CorruptBlock``."""
    values = _varints(unseal(block))
    if not values or len(values) != 1 + _FIELDS * values[0]:
        raise CorruptBlock("the block's length is not its buckets'")
    slot = -1
    for at in range(1, len(values), _FIELDS):
        step, count, failures, p50, to_p95, to_p99, to_max = values[at : at + _FIELDS]
        if slot >= 0 and not step:
            raise CorruptBlock("two buckets of the same slot")
        slot = step if slot < 0 else slot + step
        if slot >= shape.slots or not count or failures > count:
            raise CorruptBlock("a bucket outside its block, or of no check")
        p95 = p50 + to_p95
        p99 = p95 + to_p99
        yield slot, count, failures, p50, p95, p99, p99 + to_max


def _varints(body: bytes) -> list[int]:
    """Every unsigned LEB128 varint of ``body``, in one pass."""
    values: list[int] = []
    value = shift = 0
    for byte in body:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            values.append(value)
            value = shift = 0
        else:
            shift += 7
            if shift > 70:
                raise CorruptBlock("a number is too long")
    if shift:
        raise CorruptBlock("the block ends early")
    return values
