"""The packed encoding of one connection's probe samples for one hour (``sample_blocks``).

A block is bytes: a format byte, then (format 1) a stream of unsigned LEB128
varints, or (format 2) that stream deflated; ``encode_block`` keeps the shorter.
Choice, figures and alternatives: docs/decisions.md, "Issue 15: packed probe samples".

Format 1, after ``count``, per sample in stored order (``checked_at``, then
arrival):

- **head**: ``outcome code | id kind << 4`` — the code is the index in
  ``OUTCOMES`` (15: an unknown outcome, spelled out next as text); the id kind
  is 1 for ``scheduled:<sequence>`` (the sequence follows as a zigzag delta
  from the previous scheduled sample's), 0 for any other check id (text);
- **time**: microseconds; the first sample's offset from the block's start, then
  each one's delta-of-delta (zigzag) — checks at a steady interval cost 1-3 bytes;
- **latency**: microseconds (zigzag);
- **phases**: their number, then per phase its name code (the index in
  ``PHASES``, or 255 and the name as text) and its microseconds (zigzag).

Text is a varint length and UTF-8. Latencies and phases are kept to the
microsecond, the precision every check measures them with (``round(…, 3)`` ms):
``NewSample`` values are rounded on the way in, so raw and packed answers agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from connmgr.storage.varint_blocks import CorruptBlock, VarintReader, VarintWriter, seal, unseal

OUTCOMES: Final = (
    "ok",
    "auth_failed",
    "unreachable",
    "timeout",
    "dns_error",
    "tls_error",
    "refused_by_policy",
    "protocol_error",
    "permission_denied",
    "config_error",
)
"""Outcome codes by their index; append only (stored blocks hold the indexes)."""
PHASES: Final = ("resolve", "connect", "tls", "auth", "query")
"""Phase names by their index; append only."""

SCHEDULED_PREFIX: Final = "scheduled:"
_OTHER_OUTCOME: Final = 15
_OTHER_PHASE: Final = 255
_US: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PackedSample:
    """One sample as a block holds it; the block gives connection and tenant."""

    check_id: str
    checked_at: datetime
    outcome: str
    latency_ms: float
    phases: dict[str, float] = field(default_factory=dict)


def to_micros(milliseconds: float) -> int:
    """Milliseconds as whole microseconds (the stored precision)."""
    return round(milliseconds * 1000)


def encode_block(start: datetime, samples: list[PackedSample]) -> bytes:
    """The block of ``samples`` (in stored order, each at or after ``start``)."""
    writer = VarintWriter()
    writer.varint(len(samples))
    previous_at, previous_step, previous_sequence = 0, 0, 0
    for index, sample in enumerate(samples):
        at = (sample.checked_at - start) // _US
        if at < 0:
            raise ValueError("a sample is older than its block")
        step = at - previous_at
        writer.signed(step - previous_step if index else at)
        previous_at, previous_step = at, step
        sequence = _scheduled_sequence(sample.check_id)
        code = OUTCOMES.index(sample.outcome) if sample.outcome in OUTCOMES else _OTHER_OUTCOME
        writer.byte(code | (sequence is not None) << 4)
        if code == _OTHER_OUTCOME:
            writer.text(sample.outcome)
        if sequence is None:
            writer.text(sample.check_id)
        else:
            writer.signed(sequence - previous_sequence)
            previous_sequence = sequence
        writer.signed(to_micros(sample.latency_ms))
        writer.varint(len(sample.phases))
        for name, milliseconds in sample.phases.items():
            if name in PHASES:
                writer.byte(PHASES.index(name))
            else:
                writer.byte(_OTHER_PHASE)
                writer.text(name)
            writer.signed(to_micros(milliseconds))
    return seal(bytes(writer.out))


def decode_block(start: datetime, block: bytes) -> list[PackedSample]:
    """The samples of ``block``, in stored order. Raises ``CorruptBlock``."""
    reader = VarintReader(unseal(block))
    samples: list[PackedSample] = []
    at, step, sequence = 0, 0, 0
    for index in range(reader.varint()):
        delta = reader.signed()
        step = delta if index == 0 else step + delta
        at += step
        head = reader.byte()
        code = head & 0x0F
        outcome = reader.text() if code == _OTHER_OUTCOME else _outcome(code)
        if head >> 4 & 1:
            sequence += reader.signed()
            check_id = f"{SCHEDULED_PREFIX}{sequence}"
        else:
            check_id = reader.text()
        latency = reader.signed() / 1000
        phases: dict[str, float] = {}
        for _ in range(reader.varint()):
            name_code = reader.byte()
            name = reader.text() if name_code == _OTHER_PHASE else _phase(name_code)
            phases[name] = reader.signed() / 1000
        samples.append(PackedSample(check_id, start + at * _US, outcome, latency, phases))
    if not reader.done():
        raise CorruptBlock("bytes after the last sample")
    return samples


def _scheduled_sequence(check_id: str) -> int | None:
    """The stream sequence of a ``scheduled:<n>`` id spelled canonically, else None."""
    if not check_id.startswith(SCHEDULED_PREFIX):
        return None
    digits = check_id[len(SCHEDULED_PREFIX) :]
    if not digits.isascii() or not digits.isdigit() or str(int(digits)) != digits:
        return None
    return int(digits)


def _outcome(code: int) -> str:
    if code >= len(OUTCOMES):
        raise CorruptBlock("unknown outcome code")
    return OUTCOMES[code]


def _phase(code: int) -> str:
    if code >= len(PHASES):
        raise CorruptBlock("unknown phase code")
    return PHASES[code]
