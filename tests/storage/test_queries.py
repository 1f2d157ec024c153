"""The API's read side (``storage.queries``), run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.queries import (
    ConnectionFilter,
    InvalidCursorError,
    autocommit_reads,
    connection_events,
    decode_cursor,
    encode_cursor,
    events_after,
    list_connections,
)
from connmgr.storage.views import redact_event_data
from support.seeds import CIPHERTEXT, MARKERS, NONCE, Seed


async def test_autocommit_reads_run_each_statement_outside_a_transaction(
    engine: AsyncEngine,
) -> None:
    reads = autocommit_reads(engine)
    if engine.dialect.name != "postgresql":
        assert reads is engine  # SQLite: in process, nothing to save
        return
    # Inside one transaction both statements get the same transaction id.
    xact_id = text("SELECT pg_current_xact_id()::text")
    async with reads.connect() as connection:
        first = (await connection.execute(xact_id)).scalar_one()
        second = (await connection.execute(xact_id)).scalar_one()

    assert second != first


async def test_filters_combine_and_stay_within_the_tenant(engine: AsyncEngine, seed: Seed) -> None:
    await seed.connection("a", kind="redis", status="healthy", tags=["prod"])
    await seed.connection("b", kind="redis", status="failing", tags=["prod"])
    await seed.connection("c", kind="redis", status="healthy", tags=["prod"], tenant="globex")
    await seed.connection("d", kind="http", status="healthy", tags=["prod"], description="A redis")

    async def names(**filters: str) -> list[str]:
        page = await list_connections(engine, "acme", ConnectionFilter(**filters))
        return [view.name for view in page.items]

    assert await names(kind="redis", status="healthy", tag="prod") == ["a"]
    assert await names(q="REDIS") == ["d"]
    assert await names(tag="prod") == ["a", "b", "d"]
    assert await names(status="unknown") == []


async def test_pages_follow_the_cursor_to_the_end(engine: AsyncEngine, seed: Seed) -> None:
    ids = sorted([(f"n{i % 3}", await seed.connection(f"n{i % 3}")) for i in range(7)])

    seen, cursor = [], None
    while True:
        page = await list_connections(engine, "acme", limit=2, cursor=cursor)
        seen += [(view.name, view.id) for view in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == ids


async def test_a_full_last_page_has_no_next_cursor(engine: AsyncEngine, seed: Seed) -> None:
    await seed.connection("a")
    await seed.connection("b")

    page = await list_connections(engine, "acme", limit=2)

    assert len(page.items) == 2
    assert page.next_cursor is None


def test_a_cursor_round_trips_and_is_urlsafe() -> None:
    cursor = encode_cursor("ä/+?&", "id-1")

    assert decode_cursor(cursor) == ("ä/+?&", "id-1")
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"n": "a"}').decode(),
        base64.urlsafe_b64encode(b'{"n": 1, "i": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"n": "a", "i": "x", "extra": 1}').decode(),
    ],
)
def test_a_cursor_not_made_here_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_a_limit_out_of_range_is_refused(engine: AsyncEngine, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await list_connections(engine, "acme", limit=limit)
    with pytest.raises(ValueError, match="limit"):
        await events_after(engine, "acme", limit=limit)


async def test_connection_events_are_its_stream_oldest_first_after_a_version(
    engine: AsyncEngine, seed: Seed
) -> None:
    connection_id = await seed.connection()
    await seed.history(connection_id)
    await seed.rejection(connection_id)  # its own stream, not the connection's

    page = await connection_events(engine, "acme", connection_id, after=1, limit=2)

    assert [(e.version, e.type) for e in page.items] == [
        (2, "ConnectionUpdated"),
        (3, "SecretsRotated"),
    ]
    assert (page.next_after, page.has_more) == (3, True)
    assert (await connection_events(engine, "globex", connection_id)).items == []


async def test_the_feed_is_the_tenants_events_in_position_order(
    engine: AsyncEngine, seed: Seed
) -> None:
    mine = await seed.connection()
    theirs = await seed.connection(tenant="globex")
    first = await seed.history(mine)
    await seed.history(theirs, tenant="globex")
    rejected = await seed.rejection(mine)

    page = await events_after(engine, "acme", after=first[0])

    assert [e.position for e in page.items] == [*first[1:], rejected]
    assert {e.metadata["tenant"] for e in page.items} == {"acme"}
    assert not any(marker in page.model_dump_json() for marker in MARKERS)


def test_redaction_reduces_every_secrets_object_and_drops_stray_material() -> None:
    data = {
        "secrets": {
            "secrets_version": 4,
            "field_names": ["password"],
            "nonce": NONCE,
            "ciphertext": CIPHERTEXT,
            "algorithm": "AES-256-GCM",
        },
        "nested": [{"secrets": {"ciphertext": CIPHERTEXT}}, {"nonce": NONCE, "keep": 1}],
        "secrets_version": 4,
        "name": "kept",
    }

    assert redact_event_data(data) == {
        "secrets": {"secrets_version": 4, "field_names": ["password"]},
        "nested": [{"secrets": {"secrets_version": None, "field_names": None}}, {"keep": 1}],
        "secrets_version": 4,
        "name": "kept",
    }


def test_redaction_keeps_an_absent_secrets_value() -> None:
    assert redact_event_data({"secrets": None, "changed": []}) == {"secrets": None, "changed": []}
