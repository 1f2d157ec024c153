"""The ``notify`` field through the encryptor: stored, replaced, kept, cleared; refused
(``invalid_recipients``) for a bad address or a kind that sends no mail, and out of
reach of another tenant. ``notify_to:`` lines in a description are only text now."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.tables import events
from support.commands import command, postgres_payload, subject_of
from support.encryptor import Encryptor

OPS = {"recipients": ["ops@example.com"], "sender": None}


def smtp_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "mail-alerts",
        "kind": "smtp",
        "config": {"host": "mail.example.com", "port": 587, "security": "starttls"},
        "tags": ["notify"],
        "notify": {"recipients": ["ops@example.com"]},
    }
    return payload | overrides


async def _create(encryptor: Encryptor, payload: dict[str, Any]) -> tuple[str, CommandOutcome]:
    connection_id = str(uuid.uuid4())
    return connection_id, await encryptor.one(command("create", connection_id, payload))


async def _update(
    encryptor: Encryptor, connection_id: str, payload: dict[str, Any], tenant: str = "acme"
) -> CommandOutcome:
    document = command("update", connection_id, payload, tenant=tenant)
    return await encryptor.one(document, subject=subject_of(document, tenant))


async def _notify(encryptor: Encryptor, connection_id: str) -> Any:
    state = await encryptor.state(connection_id)
    assert state is not None
    return state.notify


async def test_a_channel_is_created_with_its_recipients_in_a_version_2_event(
    encryptor: Encryptor, engine: AsyncEngine
) -> None:
    payload = smtp_payload(
        notify={"recipients": ["Ops@Example.COM", "oncall@example.com"], "sender": "a@example.com"}
    )
    channel, outcome = await _create(encryptor, payload)

    assert outcome.outcome == "accepted"
    stored = {"recipients": ["Ops@example.com", "oncall@example.com"], "sender": "a@example.com"}
    assert await _notify(encryptor, channel) == stored
    async with engine.connect() as connection:
        (data,) = (await connection.execute(select(events.c.data))).scalars()
    assert (data["schema_version"], data["notify"]) == (2, stored)


async def test_notify_to_lines_in_a_new_description_are_only_text(encryptor: Encryptor) -> None:
    payload = smtp_payload(description="notify_to: spy@example.com")
    del payload["notify"]
    channel, outcome = await _create(encryptor, payload)

    assert outcome.outcome == "accepted"
    assert await _notify(encryptor, channel) is None


async def test_a_bad_address_or_a_kind_without_mail_is_refused_with_its_reason(
    encryptor: Encryptor,
) -> None:
    _, accepted = await _create(encryptor, smtp_payload())
    bad = smtp_payload(notify={"recipients": ["ops@example.com\r\nBcc: spy@example.com"]})
    _, refused = await _create(encryptor, bad)
    postgres = postgres_payload(notify={"recipients": ["ops@example.com"]}, auth={"method": "none"})
    _, wrong_kind = await _create(encryptor, postgres)

    assert accepted.outcome == "accepted"
    assert (refused.outcome, refused.reason) == ("rejected", "invalid_recipients")
    assert [e.field for e in refused.errors] == ["payload.notify.recipients.0"]
    assert (wrong_kind.outcome, wrong_kind.reason) == ("rejected", "invalid_recipients")
    assert [e.field for e in wrong_kind.errors] == ["payload.notify"]


async def test_an_update_replaces_keeps_or_clears_the_recipients(encryptor: Encryptor) -> None:
    channel, _ = await _create(encryptor, smtp_payload())

    replaced = await _update(encryptor, channel, {"notify": {"recipients": ["b@example.com"]}})
    after_replace = await _notify(encryptor, channel)
    kept = await _update(encryptor, channel, {"description": "on call: team b"})
    after_keep = await _notify(encryptor, channel)
    same = await _update(encryptor, channel, {"notify": {"recipients": ["b@example.com"]}})
    cleared = await _update(encryptor, channel, {"notify": {"recipients": []}})

    assert (replaced.outcome, replaced.events) == ("accepted", ["ConnectionUpdated"])
    assert after_replace == {"recipients": ["b@example.com"], "sender": None}
    assert (kept.outcome, after_keep) == ("accepted", after_replace)
    assert (same.outcome, same.events) == ("accepted", [])
    assert (cleared.outcome, cleared.events) == ("accepted", ["ConnectionUpdated"])
    assert await _notify(encryptor, channel) is None


async def test_an_update_with_a_bad_address_changes_nothing(encryptor: Encryptor) -> None:
    channel, _ = await _create(encryptor, smtp_payload())

    refused = await _update(encryptor, channel, {"notify": {"recipients": ["a@b"]}})

    assert (refused.outcome, refused.reason) == ("rejected", "invalid_recipients")
    assert await _notify(encryptor, channel) == OPS


async def test_another_tenant_cannot_redirect_a_channels_recipients(encryptor: Encryptor) -> None:
    channel, _ = await _create(encryptor, smtp_payload())
    own = await _update(encryptor, channel, {"notify": {"recipients": ["b@example.com"]}})

    hijack = {"notify": {"recipients": ["spy@example.com"], "sender": "b@example.com"}}
    refused = await _update(encryptor, channel, hijack, tenant="other")

    assert own.outcome == "accepted"
    assert (refused.outcome, refused.reason) == ("rejected", "not_found")
    assert await _notify(encryptor, channel) == {"recipients": ["b@example.com"], "sender": None}
