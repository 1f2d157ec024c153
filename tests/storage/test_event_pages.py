"""Pages of the event log (``storage.reads.event_pages``) and the redaction of their
secrets (``storage.reads.views``), run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.event_pages import connection_events, events_after
from connmgr.storage.reads.views import redact_event_data
from support.seeds import CIPHERTEXT, MARKERS, NONCE, Seed


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
