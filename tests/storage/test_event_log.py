"""The event log contract, run on SQLite and PostgreSQL alike; the appender's and the
audit's own logic (paging, the head it writes back, savepoints, times) on SQLite only,
since it is the same code on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage import audit
from connmgr.storage.audit import AuditReport, verify_chain
from connmgr.storage.database import create_engine, migrate, write_transaction
from connmgr.storage.event_log import Appender, PendingEvent, StoredEvent, read_after
from connmgr.storage.tables import chain_head
from support.databases import migrated_engine
from support.tampering import tamper
from support.time_zones import HALF_HOUR_AHEAD, local_time_zone


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


MISMATCH: Final = "the event does not match its hash"
MISSING: Final = "an event is missing (deleted)"
TRUNCATED: Final = "the log ends before its recorded head (truncated)"


@pytest.mark.parametrize(
    ("statement", "bad_position", "problem"),
    [
        ("UPDATE events SET data = '{\"n\": 99}' WHERE position = 2", 2, MISMATCH),
        ("DELETE FROM events WHERE position = 2", 2, MISSING),
        ("DELETE FROM events WHERE position >= 3", 3, TRUNCATED),
    ],
    ids=["edited", "deleted", "truncated"],
)
async def test_audit_names_the_first_tampered_position(
    engine: AsyncEngine, statement: str, bad_position: int, problem: str
) -> None:
    await append(engine, pending("a", 1), pending("a", 2), pending("a", 3), pending("a", 4))
    assert (await verify_chain(engine)).ok
    await tamper(engine, statement)
    report = await verify_chain(engine)
    assert report == AuditReport(
        ok=False, events_checked=bad_position - 1, first_bad_position=bad_position, problem=problem
    )


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


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(sqlite_url) as engine:
        yield engine


async def read_all(engine: AsyncEngine) -> list[StoredEvent]:
    async with engine.connect() as connection:
        return await read_after(connection, 0, 100)


@pytest.mark.parametrize(
    "head", [{"hash": "f" * 64}, {"position": 5}], ids=["hash-forged", "position-moved"]
)
async def test_a_chain_head_that_does_not_match_the_last_event_is_reported(
    sqlite_engine: AsyncEngine, head: dict[str, object]
) -> None:
    """Either half of the head wrong is enough: the other half may have been forged to match."""
    await append(sqlite_engine, *(pending("a", n) for n in range(1, 5)))
    async with sqlite_engine.begin() as connection:
        await connection.execute(update(chain_head).values(**head))
    report = await verify_chain(sqlite_engine)
    assert report == AuditReport(
        ok=False, events_checked=4, first_bad_position=5, problem=TRUNCATED
    )


async def test_read_after_returns_at_most_limit_events_after_the_position(
    sqlite_engine: AsyncEngine,
) -> None:
    await append(sqlite_engine, *(pending("a", n) for n in range(1, 6)))
    async with sqlite_engine.connect() as connection:
        pages = [
            [e.position for e in await read_after(connection, after, 2)] for after in (0, 2, 4, 5)
        ]
    assert pages == [[1, 2], [3, 4], [5], []]


async def test_the_audit_reads_the_log_in_pages_of_at_most_page_events(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log of millions of rows is audited in bounded memory; the chain links across pages."""
    await append(sqlite_engine, *(pending("a", n) for n in range(1, 6)))
    sizes: list[int] = []

    async def read_page(connection: Any, position: int, limit: int) -> list[StoredEvent]:
        page = await read_after(connection, position, limit)
        sizes.append(len(page))
        return page

    monkeypatch.setattr(audit, "PAGE", 2)
    monkeypatch.setattr(audit, "read_after", read_page)
    report = await verify_chain(sqlite_engine)
    async with sqlite_engine.connect() as connection:
        head = await connection.scalar(select(chain_head.c.hash))
    assert report == AuditReport(
        ok=True, events_checked=5, first_bad_position=None, problem=None, last_hash=head
    )
    assert sizes == [2, 2, 1, 0]


def head_writes(engine: AsyncEngine) -> list[str]:
    """The statements that write the chain head, as the engine sends them from now on."""
    written: list[str] = []

    def record(*arguments: Any) -> None:
        statement = str(arguments[2])
        if statement.lstrip().upper().startswith("UPDATE CHAIN_HEAD"):
            written.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return written


async def test_finish_writes_the_head_back_once_and_only_after_appends(
    sqlite_engine: AsyncEngine,
) -> None:
    """A batch that appended nothing leaves the head row alone (no write per empty batch),
    and a second ``finish`` with nothing appended since writes nothing more."""
    written = head_writes(sqlite_engine)
    async with write_transaction(sqlite_engine) as connection:
        appender = await Appender.begin(connection)
        await appender.finish()
        assert written == []
        await appender.append([pending("a", 1)])
        await appender.finish()
        assert len(written) == 1
        await appender.finish()
        assert len(written) == 1
        await appender.append([pending("a", 2)])
        await appender.finish()
        assert len(written) == 2
    async with sqlite_engine.connect() as connection:
        head = (await connection.execute(select(chain_head.c.position))).scalar_one()
    assert head == 2


async def test_rewind_forgets_appends_rolled_back_with_their_savepoint(
    sqlite_engine: AsyncEngine,
) -> None:
    await append(sqlite_engine, pending("a", 1))
    async with write_transaction(sqlite_engine) as connection:
        appender = await Appender.begin(connection)
        await appender.append([pending("a", 2)])
        mark = appender.mark()
        savepoint = await connection.begin_nested()
        await appender.append([pending("b", 1), pending("b", 2)])
        await savepoint.rollback()
        appender.rewind(mark)
        assert appender.head == mark
        await appender.append([pending("c", 1)])
        await appender.finish()
    assert [(e.position, e.stream_id) for e in await read_all(sqlite_engine)] == [
        (1, "a"),
        (2, "a"),
        (3, "c"),
    ]
    assert (await verify_chain(sqlite_engine)).ok


async def test_an_append_without_a_time_records_the_current_utc_moment(
    sqlite_engine: AsyncEngine,
) -> None:
    with local_time_zone(HALF_HOUR_AHEAD):
        before = datetime.now(UTC)
        async with write_transaction(sqlite_engine) as connection:
            appender = await Appender.begin(connection)
            (stored,) = await appender.append([pending("a", 1)])
            await appender.finish()
        after = datetime.now(UTC)
        (read,) = await read_all(sqlite_engine)
    assert stored.recorded_at.utcoffset() == timedelta(0)
    assert before <= stored.recorded_at <= after
    assert read.recorded_at == stored.recorded_at


@pytest.mark.parametrize(
    "recorded_at",
    [
        datetime(2026, 3, 14, 6, 0, 15, 123456, tzinfo=UTC),
        datetime(2026, 3, 14, 11, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5.5))),
    ],
    ids=["utc", "plus-05-30"],
)
async def test_the_moment_read_back_is_the_moment_appended_whatever_the_local_zone(
    sqlite_engine: AsyncEngine, recorded_at: datetime
) -> None:
    """SQLite keeps no offset and hands back naive times: the log stores and reads UTC,
    so the hash still verifies and the moment is the same on a host east of UTC."""
    with local_time_zone(HALF_HOUR_AHEAD):
        async with write_transaction(sqlite_engine) as connection:
            appender = await Appender.begin(connection)
            (stored,) = await appender.append([pending("a", 1)], recorded_at)
            await appender.finish()
        (read,) = await read_all(sqlite_engine)
        report = await verify_chain(sqlite_engine)
    utc_moment = datetime(2026, 3, 14, 6, 0, 15, 123456, tzinfo=UTC)
    assert (stored.recorded_at, stored.recorded_at.utcoffset()) == (utc_moment, timedelta(0))
    assert (read.recorded_at, read.recorded_at.utcoffset()) == (utc_moment, timedelta(0))
    assert report.ok
