"""Peers and builders of the notifier tests: a webhook receiver, channels, alert events.

- ``Receiver``: an aiohttp server on 127.0.0.1 that records every POST per path,
  checks its ``v1`` signature with the path's secret, and answers with the
  statuses scripted for that path (then 200).
- ``alert_event``: a synthetic ``AlertRaised``/``AlertResolved`` in the relay's
  format (``workers.relay.event_messages``), ready to publish.
- ``channel_payload``: a create payload of a ``webhook`` notification channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connmgr.storage.event_log import StoredEvent
from connmgr.workers.relay.event_messages import event_message

TENANT = "acme"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    def at(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path}", self._receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        headers = dict(request.headers)
        self.hits.append(Hit(path, headers, body, self._verify(path, headers, body)))
        script = self.scripts.get(path, [])
        return web.Response(status=script.pop(0) if script else 200)

    def _verify(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        secret = self.secrets.get(path)
        timestamp = headers.get("X-Connmgr-Timestamp", "")
        if secret is None or not timestamp:
            return False
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        given = headers.get("X-Connmgr-Signature", "")
        return hmac.compare_digest(given, "v1=" + expected.hexdigest())


def channel_payload(
    url: str, *, tags: list[str], template: str | None = None, **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": f"channel-{uuid.uuid4().hex[:6]}",
        "kind": "webhook",
        "config": {"url": url},
        "tags": tags,
    }
    if template is None:
        payload["auth"] = {"method": "none"}
    else:
        payload["template"] = template  # the template's auth applies
    payload.update(extra)
    return payload


def alert_event(
    connection_id: str,
    *,
    raised: bool = True,
    status: str = "down",
    alert_id: str | None = None,
    tenant: str = TENANT,
) -> tuple[str, bytes, str]:
    """Subject, body and event id of an alert event as the relay publishes it."""
    now = datetime.now(UTC)
    data = _alert_data(raised, status, alert_id or str(uuid.uuid4()), now)
    event = StoredEvent(
        position=1,
        event_id=str(uuid.uuid4()),
        stream_id=connection_id,
        version=2,
        type="AlertRaised" if raised else "AlertResolved",
        tenant=tenant,
        data=data,
        metadata={"command_id": None, "tenant": tenant, "correlation_id": "corr-1"},
        recorded_at=now,
        hash="0" * 64,
    )
    subject, body = event_message(event)
    return subject, body, event.event_id


def _alert_data(raised: bool, status: str, alert_id: str, now: datetime) -> dict[str, Any]:
    if not raised:
        return {"alert_id": alert_id, "resolved_at": now.isoformat(), "open_s": 252.0}
    return {
        "alert_id": alert_id,
        "status": status,
        "reason": "3 consecutive failures",
        "outcome": "unreachable",
        "detail": "the connection was refused",
        "raised_at": now.isoformat(),
    }
