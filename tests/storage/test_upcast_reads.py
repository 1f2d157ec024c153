"""Every read path of stored events reads a version-1 event at today's version, while
the log keeps (and the chain hashes) what was written. The step under test: e-mail
recipients in ``notify_to:`` lines of a version-1 description (``schemas/upcasting.py``)."""

from __future__ import annotations

import uuid
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.audit import verify_chain
from connmgr.storage.database import create_engine, write_transaction
from connmgr.storage.projection import apply
from connmgr.storage.projection_store import load_connection, rebuild
from connmgr.storage.reads.event_pages import connection_events, events_after
from connmgr.storage.schema_upgrade import upgrade_schema
from connmgr.storage.tables import connections, events
from support.legacy_events import (
    LEGACY_DESCRIPTION,
    append_events,
    smtp_created_v1,
    updated_v1,
)
from support.migrations import upgrade_to

CARRIED: Final = {
    "recipients": ["ops@example.com", "oncall@example.com", "evil@example.com"],
    "sender": "alerts@example.com",
}


async def test_the_fold_and_rebuild_read_recipients_from_version_1_events(
    engine: AsyncEngine,
) -> None:
    channel, other = str(uuid.uuid4()), str(uuid.uuid4())
    stored = await append_events(
        engine, channel, ("ConnectionCreated", smtp_created_v1(LEGACY_DESCRIPTION))
    )
    await append_events(
        engine,
        other,
        ("ConnectionCreated", smtp_created_v1("notify_to: first@example.com")),
        ("ConnectionUpdated", updated_v1({"description": "notify_to: second@example.com"})),
        ("ConnectionUpdated", updated_v1({"config": {"host": "mx.example.com", "port": 25}})),
    )

    assert await rebuild(engine) == 2
    async with engine.connect() as connection:
        state = await load_connection(connection, channel)
        later = await load_connection(connection, other)

    assert state is not None
    assert later is not None
    assert state.notify == CARRIED
    assert apply(None, stored[0]) == state
    assert later.notify == {"recipients": ["second@example.com"], "sender": None}
    assert (later.config, later.version) == ({"host": "mx.example.com", "port": 25}, 3)


async def test_audit_reads_show_the_upcast_data_and_the_stored_hash(engine: AsyncEngine) -> None:
    channel = str(uuid.uuid4())
    (stored,) = await append_events(
        engine, channel, ("ConnectionCreated", smtp_created_v1(LEGACY_DESCRIPTION))
    )

    own = await connection_events(engine, "acme", channel)
    feed = await events_after(engine, "acme")
    report = await verify_chain(engine)
    async with engine.connect() as connection:
        (raw,) = (await connection.execute(select(events.c.data))).scalars()

    for page in (own, feed):
        (view,) = page.items
        assert view.data["schema_version"] == 2
        assert view.data["notify"] == CARRIED
        assert view.hash == stored.hash
    assert report.ok
    assert report.events_checked == 1
    assert raw["schema_version"] == 1
    assert "notify" not in raw


def _old_row(connection_id: str, created: dict[str, Any], at: Any) -> dict[str, Any]:
    """The projection row the fold before ``notify`` wrote (no such column then)."""
    keys = ("name", "kind", "template", "config", "auth", "secrets", "health_check", "tags")
    return {
        "id": connection_id,
        "tenant": "acme",
        **{key: created[key] for key in keys},
        "description": created["description"],
        "status": "unknown",
        "version": 1,
        "deleted": False,
        "created_at": at,
        "updated_at": at,
    }


async def test_upgrading_a_deployment_refolds_the_recipients_into_the_projection(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    channel, created = str(uuid.uuid4()), smtp_created_v1(LEGACY_DESCRIPTION)
    try:
        async with write_transaction(engine) as connection:
            await connection.run_sync(upgrade_to, "0005")
        (stored,) = await append_events(engine, channel, ("ConnectionCreated", created))
        async with write_transaction(engine) as connection:
            row = _old_row(channel, created, stored.recorded_at)
            await connection.execute(connections.insert().values(**row))

        first, again = await upgrade_schema(engine), await upgrade_schema(engine)
        async with engine.connect() as connection:
            state = await load_connection(connection, channel)
    finally:
        await engine.dispose()
    assert (first, again) == (True, False)
    assert state is not None
    assert state.notify == CARRIED
    assert state.description == LEGACY_DESCRIPTION
