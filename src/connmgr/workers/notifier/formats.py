"""What each channel format receives: the JSON body and the headers of one POST.

- ``cloudevents`` (any other webhook): a CloudEvents 1.0 structured-mode event,
  ``Content-Type: application/cloudevents+json``, ``id`` = the alert event's id
  (stable across retries, so a receiver can drop a repeat), ``type``
  ``io.connmgr.alert.raised`` / ``io.connmgr.alert.resolved``;
- ``slack``: ``{"text", "blocks"}`` (mrkdwn escaped);
- ``teams``: a message with one Adaptive Card (Workflows webhooks);
- ``discord``: ``{"content", "embeds"}`` with mentions disabled;
- ``pagerduty``: Events API v2 ``trigger`` / ``resolve``, ``dedup_key`` = the
  alert id, the routing key from the channel's ``api_key`` secret (or
  ``routing_key``); without one the channel is misconfigured.

Every body is signed the way the webhook check signs its test event
(``workers.checks.webhook``): ``X-Connmgr-Timestamp`` always, and when the
channel stores a ``signing_secret`` its signature header (by default
``X-Connmgr-Signature``) = ``v1=`` + hex HMAC-SHA256 over ``<timestamp>.<body>``.
Text comes from the alert's fixed fields only; no secret is ever put in a body
except the PagerDuty routing key, which that API requires.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final

from connmgr.workers.checks.webhook import TIMESTAMP_HEADER, signature
from connmgr.workers.notifier.channels import ChannelFormat
from connmgr.workers.notifier.notices import AlertNotice, Severity
from connmgr.workers.notifier.texts import facts, headline, summary

CLOUDEVENTS_TYPE_PREFIX: Final = "io.connmgr.alert."
_JSON: Final = "application/json"
_RED, _GREEN, _AMBER = 0xD32F2F, 0x2E7D32, 0xF9A825


class ChannelMisconfigured(Exception):
    """The channel lacks what its format needs (a stable message, never a value)."""


@dataclass(frozen=True, slots=True, repr=False)
class Payload:
    body: bytes
    headers: dict[str, str]


def render(
    channel_format: ChannelFormat,
    notice: AlertNotice,
    secrets: Mapping[str, str],
    *,
    signature_header: str,
    now: float,
) -> Payload:
    """The signed POST for ``notice``; raises ``ChannelMisconfigured``."""
    builder, content_type = _BUILDERS[channel_format]
    body = json.dumps(builder(notice, secrets), separators=(",", ":")).encode()
    timestamp = str(int(now))
    headers = {"Content-Type": content_type, TIMESTAMP_HEADER: timestamp}
    if secret := secrets.get("signing_secret"):
        headers[signature_header] = signature(secret, timestamp, body)
    return Payload(body, headers)


def cloudevent(notice: AlertNotice, _secrets: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "alert_id": notice.alert_id,
        "connection_id": notice.connection_id,
        "connection_name": notice.connection_name,
        "connection_kind": notice.connection_kind,
        "severity": notice.severity.label if notice.raised else None,
        "summary": summary(notice),
    }
    if notice.raised:
        data |= {"status": notice.status, "reason": notice.reason}
        data |= {"outcome": notice.outcome, "detail": notice.detail}
    else:
        data["open_s"] = notice.open_s
    return {
        "specversion": "1.0",
        "id": notice.event_id,
        "source": f"/connmgr/{notice.tenant}/connections/{notice.connection_id}",
        "type": CLOUDEVENTS_TYPE_PREFIX + ("raised" if notice.raised else "resolved"),
        "subject": notice.connection_id,
        "time": _iso(notice),
        "datacontenttype": _JSON,
        "data": data,
    }


def slack(notice: AlertNotice, _secrets: Mapping[str, str]) -> dict[str, Any]:
    lines = "\n".join(f"*{name}:* {_mrkdwn(value)}" for name, value in facts(notice))
    return {
        "text": _mrkdwn(f"{headline(notice)}: {summary(notice)}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline(notice)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(summary(notice))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines}},
        ],
    }


def teams(notice: AlertNotice, _secrets: Mapping[str, str]) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": headline(notice),
                "weight": "Bolder",
                "size": "Medium",
                "color": "Attention" if notice.raised else "Good",
            },
            {"type": "TextBlock", "text": summary(notice), "wrap": True},
            {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in facts(notice)]},
        ],
    }
    content_type = "application/vnd.microsoft.card.adaptive"
    return {"type": "message", "attachments": [{"contentType": content_type, "content": card}]}


def discord(notice: AlertNotice, _secrets: Mapping[str, str]) -> dict[str, Any]:
    critical = notice.severity is Severity.CRITICAL
    color = _GREEN if not notice.raised else _RED if critical else _AMBER
    embed = {
        "title": headline(notice)[:256],
        "description": summary(notice)[:4096],
        "color": color,
        "fields": [{"name": n, "value": v[:1024], "inline": True} for n, v in facts(notice)],
        "timestamp": _iso(notice),
    }
    content = f"{headline(notice)}: {summary(notice)}"[:2000]
    return {"content": content, "embeds": [embed], "allowed_mentions": {"parse": []}}


def pagerduty(notice: AlertNotice, secrets: Mapping[str, str]) -> dict[str, Any]:
    routing_key = secrets.get("routing_key") or secrets.get("api_key")
    if not routing_key:
        raise ChannelMisconfigured("a pagerduty channel needs its routing key (api_key secret)")
    event: dict[str, Any] = {"routing_key": routing_key, "dedup_key": notice.alert_id}
    if not notice.raised:
        return event | {"event_action": "resolve"}
    payload = {
        "summary": f"{headline(notice)}: {summary(notice)}"[:1024],
        "source": notice.display_name,
        "severity": notice.severity.label,
        "timestamp": _iso(notice),
        "component": notice.connection_kind,
        "group": notice.tenant,
        "class": notice.status,
        "custom_details": dict(facts(notice)),
    }
    return event | {"event_action": "trigger", "payload": payload, "client": "connmgr"}


Builder = Callable[[AlertNotice, Mapping[str, str]], dict[str, Any]]
_BUILDERS: Final[dict[ChannelFormat, tuple[Builder, str]]] = {
    ChannelFormat.CLOUDEVENTS: (cloudevent, "application/cloudevents+json; charset=utf-8"),
    ChannelFormat.SLACK: (slack, _JSON),
    ChannelFormat.TEAMS: (teams, _JSON),
    ChannelFormat.DISCORD: (discord, _JSON),
    ChannelFormat.PAGERDUTY: (pagerduty, _JSON),
}


def _iso(notice: AlertNotice) -> str:
    return notice.at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped so text cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
