"""The hash chain pinned down (docs/decisions.md, "The log"; ``storage.event_log``).

- Known answers: a fixed event and a fixed previous hash give the canonical bytes and
  the hash written below, so a change of format is a visible decision, never an accident.
  Since issue 13 (traces) the fixed event's metadata carries a ``traceparent``, which
  the hash covers; an event without one (every event before traces, and every untraced
  one since) still has the hash it had before (docs/security.md, "The log is evidence").
- Every column of ``events`` is hashed or listed here as outside the hash, with why.
- Tampering with any hashed field of a stored row, on PostgreSQL with the triggers
  bypassed as a database owner could, is reported by ``audit.verify_chain`` at that row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.audit import verify_chain
from connmgr.storage.database import write_transaction
from connmgr.storage.event_log import (
    GENESIS_HASH,
    Appender,
    PendingEvent,
    StoredEvent,
    as_utc,
    canonical_form,
    chain_hash,
)
from connmgr.storage.tables import chain_head, events
from support.databases import migrated_engine, temporary_postgres_database
from support.services import require_services
from support.time_zones import HALF_HOUR_AHEAD, local_time_zone

# 11:30:15.123456 at +05:30 is 06:00:15.123456 UTC: the hash sees the UTC moment.
FIXED_EVENT: Final = StoredEvent(
    position=42,
    event_id="7d0c8f5e-3b1a-4c2d-9e8f-0a1b2c3d4e5f",
    stream_id="0b6a1f8e-2c4d-4e6f-8a9b-1c2d3e4f5a6b",
    version=3,
    type="ConnectionUpdated",
    tenant="acme",
    data={"changed": ["description"], "description": "Zürich ☃ café"},
    metadata={
        "command_id": "5f4e3d2c-1b0a-4988-8776-655443322110",
        "actor": "ops",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    },
    recorded_at=datetime(2026, 3, 14, 11, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5.5))),
    hash="",
)
FIXED_PREVIOUS_HASH: Final = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

FIXED_CANONICAL_BYTES: Final = (
    b'{"data":{"changed":["description"],"description":"Z\\u00fcrich \\u2603 caf\\u00e9"},'
    b'"event_id":"7d0c8f5e-3b1a-4c2d-9e8f-0a1b2c3d4e5f",'
    b'"metadata":{"actor":"ops","command_id":"5f4e3d2c-1b0a-4988-8776-655443322110",'
    b'"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},'
    b'"position":42,"recorded_at":"2026-03-14T06:00:15.123456Z",'
    b'"stream_id":"0b6a1f8e-2c4d-4e6f-8a9b-1c2d3e4f5a6b","tenant":"acme",'
    b'"type":"ConnectionUpdated","version":3}'
)
FIXED_HASH: Final = "664e0c97a65b2bf47f7bafc96e10c8c68310e9a584872c5e7dc7aaa715093b0a"
GENESIS_EVENT_HASH: Final = "e76a257cb7babe3f45079b39b1190e4ebd12414b1472b44efd5b2d9b0612fce4"
UNTRACED_HASH: Final = "7ce1154e7b22ff24c3c9006e67daf7a1647ae0ff49b998d1b006fbba4b888d46"
"""The fixed event without its ``traceparent``: the known answer from before traces."""

OUTSIDE_THE_HASH: Final = {
    "hash": "the output of the chain: SHA-256(previous hash ‖ canonical form) of the row",
}


@pytest.mark.parametrize("zone", ["UTC0", HALF_HOUR_AHEAD])
def test_the_canonical_form_of_a_fixed_event_is_known(zone: str) -> None:
    """Whatever the host's local zone: the time is written in UTC, never local time."""
    with local_time_zone(zone):
        assert canonical_form(FIXED_EVENT) == FIXED_CANONICAL_BYTES


def test_as_utc_reads_a_naive_moment_as_utc_and_moves_an_aware_one_to_utc() -> None:
    """Naive is how SQLite hands a stored moment back; the host's zone plays no part."""
    utc_moment = datetime(2026, 3, 14, 6, 0, 15, 123456, tzinfo=UTC)
    with local_time_zone(HALF_HOUR_AHEAD):
        moments = [as_utc(utc_moment.replace(tzinfo=None)), as_utc(FIXED_EVENT.recorded_at)]
    assert [(m, m.utcoffset()) for m in moments] == [(utc_moment, timedelta(0))] * 2


def test_a_fixed_event_after_a_fixed_hash_has_a_known_hash() -> None:
    assert chain_hash(FIXED_PREVIOUS_HASH, FIXED_EVENT) == FIXED_HASH


def test_the_traceparent_in_the_metadata_is_covered_by_the_hash() -> None:
    """An event appended before traces (no ``traceparent``) keeps its old hash, so old
    logs still verify; any other ``traceparent`` gives another hash."""
    untraced = {k: v for k, v in FIXED_EVENT.metadata.items() if k != "traceparent"}
    assert chain_hash(FIXED_PREVIOUS_HASH, replace(FIXED_EVENT, metadata=untraced)) == (
        UNTRACED_HASH
    )
    other = {**FIXED_EVENT.metadata, "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    assert chain_hash(FIXED_PREVIOUS_HASH, replace(FIXED_EVENT, metadata=other)) != FIXED_HASH


def test_the_first_event_links_to_the_genesis_hash() -> None:
    assert GENESIS_HASH == "0" * 64
    genesis_event = replace(FIXED_EVENT, position=1, version=1)
    assert chain_hash(GENESIS_HASH, genesis_event) == GENESIS_EVENT_HASH


def test_every_events_column_is_hashed_or_deliberately_outside_the_hash() -> None:
    hashed = set(json.loads(canonical_form(FIXED_EVENT)))
    columns = {column.name for column in events.columns}
    assert hashed.isdisjoint(OUTSIDE_THE_HASH), "a column cannot be both hashed and outside"
    assert columns == hashed | set(OUTSIDE_THE_HASH), (
        f"undecided columns: {sorted(columns - hashed - set(OUTSIDE_THE_HASH))}; "
        f"hashed but not stored: {sorted(hashed - columns)}"
    )


def _fields(event: StoredEvent) -> dict[str, object]:
    return {field.name: getattr(event, field.name) for field in fields(StoredEvent)}


# Tampering on PostgreSQL: one database for the module; each test appends four events
# to it, so a test's rows are positions 4k+1 .. 4k+4 and the chain before them is sound.


@pytest.fixture(scope="module")
async def chain_engine() -> AsyncIterator[AsyncEngine]:
    await require_services("postgres")
    async with (
        temporary_postgres_database() as url,
        migrated_engine(url) as engine,
    ):
        yield engine


async def test_the_migrated_events_table_has_exactly_the_declared_columns(
    chain_engine: AsyncEngine,
) -> None:
    async with chain_engine.connect() as connection:
        found = await connection.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_name = 'events'")
        )
        names = {row.column_name for row in found}
    assert names == {column.name for column in events.columns}


async def test_a_fresh_log_starts_at_the_genesis_head_and_links_its_first_event_to_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(FIXED_EVENT.event_id))
    async with migrated_engine(sqlite_url) as engine:
        async with engine.connect() as connection:
            head = (
                await connection.execute(select(chain_head.c.position, chain_head.c.hash))
            ).one()
        assert tuple(head) == (0, "0" * 64)
        (first,) = await _append(engine, _pending(FIXED_EVENT), FIXED_EVENT.recorded_at)
    assert first.hash == GENESIS_EVENT_HASH


def _pending(event: StoredEvent, version: int = 1) -> PendingEvent:
    return PendingEvent(
        stream_id=event.stream_id,
        version=version,
        type=event.type,
        tenant=event.tenant,
        data=event.data,
        metadata=event.metadata,
    )


async def _append(
    engine: AsyncEngine, pending: list[PendingEvent] | PendingEvent, recorded_at: datetime
) -> list[StoredEvent]:
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        stored = await appender.append(
            pending if isinstance(pending, list) else [pending], recorded_at
        )
        await appender.finish()
    return stored


Rewrite = tuple[int, dict[str, object]]  # (position of a row, its new column values)
Tamper = Callable[[list[StoredEvent]], list[Rewrite]]


def _second_row(**change: Callable[[StoredEvent], object]) -> Tamper:
    def rewrites(rows: list[StoredEvent]) -> list[Rewrite]:
        target = rows[1]
        return [(target.position, {name: new(target) for name, new in change.items()})]

    return rewrites


def _second_and_third_swapped(rows: list[StoredEvent]) -> list[Rewrite]:
    """Positions stay contiguous: the two rows trade places in the log."""
    second, third = rows[1].position, rows[2].position
    return [
        (second, {"position": -second}),
        (third, {"position": second}),
        (-second, {"position": third}),
    ]


def _second_relinked(rows: list[StoredEvent]) -> list[Rewrite]:
    """The second row's content unchanged, its hash recomputed after another predecessor."""
    return [(rows[1].position, {"hash": chain_hash(GENESIS_HASH, rows[1])})]


def _second_rewritten_and_rehashed(rows: list[StoredEvent]) -> list[Rewrite]:
    """The second row edited and its own hash made right: the third row's link breaks."""
    forged = replace(rows[1], data={"n": 99, "text": "é"})
    return [(rows[1].position, {"data": forged.data, "hash": chain_hash(rows[0].hash, forged)})]


# name -> (tamper, index among the four rows where the audit must report the break)
TAMPERING: Final[dict[str, tuple[Tamper, int]]] = {
    "position": (_second_and_third_swapped, 1),
    "event_id": (_second_row(event_id=lambda _: str(uuid.uuid4())), 1),
    "stream_id": (_second_row(stream_id=lambda _: str(uuid.uuid4())), 1),
    "version": (_second_row(version=lambda row: row.version + 100), 1),
    "type": (_second_row(type=lambda _: "Forged"), 1),
    "tenant": (_second_row(tenant=lambda _: "intruder"), 1),
    "data": (_second_row(data=lambda row: {**row.data, "n": 99}), 1),
    "metadata": (_second_row(metadata=lambda _: {"command_id": str(uuid.uuid4())}), 1),
    "recorded_at": (
        _second_row(recorded_at=lambda row: row.recorded_at + timedelta(microseconds=1)),
        1,
    ),
    "hash": (_second_row(hash=lambda _: "f" * 64), 1),
    "previous-hash": (_second_relinked, 1),
    "rewritten-and-rehashed": (_second_rewritten_and_rehashed, 2),
}


def test_every_hashed_field_has_a_tamper_case() -> None:
    hashed = set(json.loads(canonical_form(FIXED_EVENT)))
    assert hashed | set(OUTSIDE_THE_HASH) <= set(TAMPERING)


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_tampering_with_a_stored_row_is_reported_at_that_row(
    chain_engine: AsyncEngine, case: str
) -> None:
    tamper, bad_index = TAMPERING[case]
    stream = str(uuid.uuid4())
    rows = await _append(
        chain_engine,
        [
            PendingEvent(stream, n, "Noted", "acme", {"n": n, "text": "é"}, {"command_id": None})
            for n in range(1, 5)
        ],
        datetime.now(UTC),
    )
    assert (await verify_chain(chain_engine)).ok
    await _rewrite(chain_engine, tamper(rows))
    try:
        report = await verify_chain(chain_engine)
        assert (report.ok, report.first_bad_position) == (False, rows[bad_index].position)
        assert report.problem == "the event does not match its hash"
    finally:
        await _restore(chain_engine, rows)
    assert (await verify_chain(chain_engine)).ok


async def _rewrite(engine: AsyncEngine, rewrites: list[Rewrite]) -> None:
    """What a database owner could do despite the append-only trigger."""
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        for position, values in rewrites:
            await connection.execute(
                update(events).where(events.c.position == position).values(**values)
            )


async def _restore(engine: AsyncEngine, rows: list[StoredEvent]) -> None:
    """Put the rows back as appended, so the module's next test starts on a sound chain."""
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(
            delete(events).where(events.c.stream_id.in_([row.stream_id for row in rows]))
        )
        await connection.execute(
            delete(events).where(events.c.position.in_([row.position for row in rows]))
        )
        await connection.execute(insert(events), [_fields(row) for row in rows])
