"""The event log contract, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.audit import verify_chain
from connmgr.storage.database import create_engine, migrate, write_transaction
from connmgr.storage.event_log import Appender, PendingEvent, read_after


def pending(stream: str, version: int, kind: str = "Noted") -> PendingEvent:
    return PendingEvent(
        stream_id=stream,
        version=version,
        type=kind,
        tenant="acme",
        data={"n": version, "text": "é"},
        metadata={"command_id": None},
    )


async def append(engine: AsyncEngine, *events: PendingEvent) -> None:
    async with write_transaction(engine) as connection:
        appender = await Appender.begin(connection)
        await appender.append(list(events))
        await appender.finish()


async def test_positions_are_contiguous_and_hashes_chain(engine: AsyncEngine) -> None:
    await append(engine, pending("a", 1), pending("b", 1))
    await append(engine, pending("a", 2))
    async with engine.connect() as connection:
        stored = await read_after(connection, 0, 100)
    assert [(e.position, e.stream_id, e.version) for e in stored] == [
        (1, "a", 1),
        (2, "b", 1),
        (3, "a", 2),
    ]
    report = await verify_chain(engine)
    assert report.ok
    assert report.events_checked == 3


async def test_a_second_event_at_the_same_version_is_refused(engine: AsyncEngine) -> None:
    await append(engine, pending("a", 1))
    with pytest.raises(IntegrityError):
        await append(engine, pending("a", 1))
    assert (await verify_chain(engine)).events_checked == 1


@pytest.mark.parametrize(
    "statement", ["UPDATE events SET type = 'Forged'", "DELETE FROM events WHERE position = 1"]
)
async def test_the_database_refuses_to_change_or_delete_events(
    engine: AsyncEngine, statement: str
) -> None:
    await append(engine, pending("a", 1))
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(text(statement))


async def _tamper(engine: AsyncEngine, statement: str) -> None:
    """What an attacker with full database rights could do despite the triggers."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await connection.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
            await connection.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
        await connection.execute(text(statement))


@pytest.mark.parametrize(
    ("statement", "bad_position", "problem"),
    [
        ("UPDATE events SET data = '{\"n\": 99}' WHERE position = 2", 2, "hash"),
        ("DELETE FROM events WHERE position = 2", 2, "missing"),
        ("DELETE FROM events WHERE position >= 3", 3, "truncated"),
    ],
    ids=["edited", "deleted", "truncated"],
)
async def test_audit_names_the_first_tampered_position(
    engine: AsyncEngine, statement: str, bad_position: int, problem: str
) -> None:
    await append(engine, pending("a", 1), pending("a", 2), pending("a", 3), pending("a", 4))
    assert (await verify_chain(engine)).ok
    await _tamper(engine, statement)
    report = await verify_chain(engine)
    assert not report.ok
    assert report.first_bad_position == bad_position
    assert problem in (report.problem or "")


async def test_truncate_is_refused_on_postgresql(fresh_pg_url) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    try:
        await append(engine, pending("a", 1))
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text("TRUNCATE events"))
    finally:
        await engine.dispose()
