"""Payload formats, signatures, texts, channel choice and the reading of alert events."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from notifier_peers import alert_event

from connmgr.workers.notifier.channels import ChannelFormat, ChannelRow, chosen, threshold
from connmgr.workers.notifier.formats import ChannelMisconfigured, render
from connmgr.workers.notifier.notices import AlertNotice, Severity, read_notice
from connmgr.workers.notifier.texts import duration

NOW = 1767225600.0
SECRET = "whsec-test"
RAISED = AlertNotice(
    event_id="5f1f7c36-1111-4a6b-9a51-000000000001",
    event_type="AlertRaised",
    tenant="acme",
    connection_id="5f1f7c36-2222-4a6b-9a51-000000000002",
    alert_id="5f1f7c36-3333-4a6b-9a51-000000000003",
    at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    status="down",
    reason="3 consecutive failures",
    outcome="unreachable",
    detail="the connection was refused",
    connection_name="orders-db",
    connection_kind="postgres",
)
RESOLVED = replace(
    RAISED,
    event_id="5f1f7c36-1111-4a6b-9a51-000000000009",
    event_type="AlertResolved",
    status=None,
    reason=None,
    outcome=None,
    detail=None,
    open_s=252.0,
)


def body_of(channel_format: ChannelFormat, notice: AlertNotice, **secrets: str) -> dict[str, Any]:
    payload = render(
        channel_format, notice, secrets, signature_header="X-Connmgr-Signature", now=NOW
    )
    document: dict[str, Any] = json.loads(payload.body)
    return document


def test_a_cloudevent_is_structured_and_signed_over_timestamp_and_body() -> None:
    payload = render(
        ChannelFormat.CLOUDEVENTS,
        RAISED,
        {"signing_secret": SECRET},
        signature_header="X-Hook-Signature",
        now=NOW,
    )
    event = json.loads(payload.body)
    expected = hmac.new(SECRET.encode(), b"1767225600." + payload.body, hashlib.sha256)
    assert payload.headers["X-Hook-Signature"] == "v1=" + expected.hexdigest()
    assert payload.headers["X-Connmgr-Timestamp"] == "1767225600"
    assert payload.headers["Content-Type"].startswith("application/cloudevents+json")
    assert (event["specversion"], event["id"], event["subject"]) == (
        "1.0",
        RAISED.event_id,
        RAISED.connection_id,
    )
    assert event["type"] == "io.connmgr.alert.raised"
    assert event["source"] == f"/connmgr/acme/connections/{RAISED.connection_id}"
    assert event["time"] == "2026-01-01T12:00:00Z"
    assert event["data"]["severity"] == "critical"
    assert event["data"]["status"] == "down"


def test_without_a_signing_secret_there_is_no_signature_header() -> None:
    payload = render(
        ChannelFormat.CLOUDEVENTS, RESOLVED, {}, signature_header="X-Connmgr-Signature", now=NOW
    )
    assert "X-Connmgr-Signature" not in payload.headers
    assert json.loads(payload.body)["type"] == "io.connmgr.alert.resolved"


def test_slack_gets_text_and_blocks_with_mrkdwn_escaped() -> None:
    hostile = replace(RAISED, connection_name="<!channel> & co")
    document = body_of(ChannelFormat.SLACK, hostile)
    assert document["text"].startswith("[DOWN] &lt;!channel&gt; &amp; co: ")
    assert [block["type"] for block in document["blocks"]] == ["header", "section", "section"]
    assert "<!channel>" not in json.dumps(document["blocks"][1:])


def test_teams_gets_one_adaptive_card_with_facts() -> None:
    document = body_of(ChannelFormat.TEAMS, RAISED)
    (attachment,) = document["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["body"][0]["text"]) == ("AdaptiveCard", "[DOWN] orders-db")
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["Alert id"] == RAISED.alert_id


def test_discord_gets_content_and_an_embed_and_never_pings_anyone() -> None:
    raised, resolved = (
        body_of(ChannelFormat.DISCORD, RAISED),
        body_of(ChannelFormat.DISCORD, RESOLVED),
    )
    assert raised["allowed_mentions"] == {"parse": []}
    assert raised["content"] == (
        "[DOWN] orders-db: orders-db (postgres) is down: 3 consecutive failures"
        " (the connection was refused)"
    )
    assert raised["embeds"][0]["color"] != resolved["embeds"][0]["color"]
    assert (
        resolved["content"] == "[RESOLVED] orders-db: orders-db (postgres) recovered after 4m 12s"
    )


def test_pagerduty_triggers_and_resolves_by_the_alert_id() -> None:
    trigger = body_of(ChannelFormat.PAGERDUTY, RAISED, api_key="R-key")
    resolve = body_of(ChannelFormat.PAGERDUTY, RESOLVED, routing_key="R-key")
    assert (trigger["event_action"], trigger["dedup_key"], trigger["routing_key"]) == (
        "trigger",
        RAISED.alert_id,
        "R-key",
    )
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "orders-db"
    assert resolve == {
        "routing_key": "R-key",
        "dedup_key": RAISED.alert_id,
        "event_action": "resolve",
    }


def test_a_pagerduty_channel_without_a_routing_key_is_misconfigured() -> None:
    with pytest.raises(ChannelMisconfigured):
        body_of(ChannelFormat.PAGERDUTY, RAISED)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (252, "4m 12s"), (7380, "2h 3m"), (273600, "3d 4h"), (None, "0s")],
)
def test_durations_read_like_a_person_would_say_them(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("tags", "lowest"),
    [
        ((), None),
        (("prod",), None),
        (("notify",), Severity.INFO),
        (("notify:critical",), Severity.CRITICAL),
        (("notify:critical", "notify:warning"), Severity.WARNING),
        (("notify:loud",), None),
        (("notifyx",), None),
    ],
)
def test_tags_mark_a_channel_and_its_threshold(
    tags: tuple[str, ...], lowest: Severity | None
) -> None:
    assert threshold(tags) == lowest


def test_raises_go_by_severity_and_resolutions_to_the_channels_told_of_the_raise() -> None:
    rows = [
        ChannelRow("all", "webhook", None, ("notify",), ""),
        ChannelRow("critical", "webhook", None, ("notify:critical",), ""),
        ChannelRow("plain", "webhook", None, ("prod",), ""),
    ]
    degraded = replace(RAISED, status="degraded")
    assert [row.id for row in chosen(rows, degraded, set())] == ["all"]
    assert [row.id for row in chosen(rows, RAISED, set())] == ["all", "critical"]
    assert [row.id for row in chosen(rows, RESOLVED, {"critical"})] == ["critical"]
    assert [row.id for row in chosen(rows, RESOLVED, set())] == ["all", "critical"]


@pytest.mark.parametrize(
    ("kind", "template", "channel_format"),
    [
        ("webhook", None, ChannelFormat.CLOUDEVENTS),
        ("webhook", "slack-webhook", ChannelFormat.SLACK),
        ("webhook", "teams-webhook", ChannelFormat.TEAMS),
        ("webhook", "discord-webhook", ChannelFormat.DISCORD),
        ("webhook", "pagerduty-events", ChannelFormat.PAGERDUTY),
        ("smtp", "smtp", ChannelFormat.EMAIL),
    ],
)
def test_the_template_decides_the_format(
    kind: str, template: str | None, channel_format: ChannelFormat
) -> None:
    assert ChannelRow("c", kind, template, ("notify",), "").format is channel_format


def test_the_relays_alert_events_are_read_and_anything_else_is_not() -> None:
    _, raised_body, event_id = alert_event("5f1f7c36-2222-4a6b-9a51-000000000002")
    _, resolved_body, _ = alert_event("5f1f7c36-2222-4a6b-9a51-000000000002", raised=False)
    raised, resolved = read_notice(raised_body), read_notice(resolved_body)
    assert raised is not None
    assert resolved is not None
    assert (raised.event_id, raised.severity, raised.correlation_id) == (
        event_id,
        Severity.CRITICAL,
        "corr-1",
    )
    assert (resolved.raised, resolved.open_s) == (False, 252.0)
    document = json.loads(raised_body)
    for broken in (
        b"{not json",
        json.dumps({**document, "type": "ConnectionCreated"}).encode(),
        json.dumps({**document, "tenant": "Not A Tenant"}).encode(),
        json.dumps({**document, "data": {"alert_id": "x"}}).encode(),
    ):
        assert read_notice(broken) is None
