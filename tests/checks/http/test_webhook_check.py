"""The webhook check against a receiver that verifies the documented v1 signature scheme."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from http_targets import CONNECTION_ID, Serve, leaked, webhook_target
from yarl import URL

from connmgr.schemas.connection_auth import BearerAuth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.webhook import WebhookCheck
from connmgr.workers.egress import Egress

SIGNING_SECRET = "whsec-4f1d8a2b9c"


@dataclass
class Receiver:
    """Verifies ``X-Connmgr-Signature`` as the webhook module documents it, replay-proof."""

    now: Callable[[], float] = time.time
    header: str = "X-Connmgr-Signature"
    status: int = 204
    seen: set[str] = field(default_factory=set)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/connmgr", self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((dict(request.headers), body))
        timestamp = request.headers.get("X-Connmgr-Timestamp", "")
        given = request.headers.get(self.header, "")
        digest = hmac.new(SIGNING_SECRET.encode(), f"{timestamp}.".encode() + body, "sha256")
        valid = hmac.compare_digest(given, "v1=" + digest.hexdigest())
        fresh = timestamp.isdigit() and abs(self.now() - int(timestamp)) <= 300
        if not (valid and fresh) or given in self.seen:
            return web.Response(status=401)
        self.seen.add(given)
        return web.Response(status=self.status)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def hook_url(serve: Serve, receiver: Receiver) -> URL:
    return (await serve(receiver.app())) / "hooks" / "connmgr"


async def test_a_signed_test_event_is_accepted_by_a_verifying_receiver(
    hook_url: URL, receiver: Receiver, egress: Egress
) -> None:
    target = webhook_target(hook_url, secrets={"signing_secret": SIGNING_SECRET})

    result = await WebhookCheck(egress).run(target)

    assert (result.outcome, result.detail) == (
        Outcome.OK,
        "the receiver accepted the test event (status 204)",
    )
    headers, body = receiver.received[0]
    event = json.loads(body)
    assert (event["type"], event["connection_id"]) == ("connmgr.test", CONNECTION_ID)
    assert headers["Content-Type"] == "application/json"
    assert abs(int(headers["X-Connmgr-Timestamp"]) - time.time()) < 60
    assert leaked(result, [SIGNING_SECRET]) == []


async def test_a_captured_request_replayed_is_rejected_by_the_receiver(
    hook_url: URL, receiver: Receiver, egress: Egress
) -> None:
    target = webhook_target(hook_url, secrets={"signing_secret": SIGNING_SECRET})
    assert (await WebhookCheck(egress).run(target)).outcome is Outcome.OK
    headers, body = receiver.received[0]
    replay = {k: v for k, v in headers.items() if k.lower().startswith(("x-connmgr", "content-t"))}

    async with aiohttp.ClientSession() as client:
        async with client.post(hook_url, data=body, headers=replay) as again:
            assert again.status == 401
        receiver.seen.clear()
        receiver.now = lambda: time.time() + 301
        async with client.post(hook_url, data=body, headers=replay) as later:
            assert later.status == 401


async def test_an_event_stamped_by_a_stale_clock_is_auth_failed(
    hook_url: URL, egress: Egress
) -> None:
    target = webhook_target(hook_url, secrets={"signing_secret": SIGNING_SECRET})

    result = await WebhookCheck(egress, clock=lambda: time.time() - 600).run(target)

    assert result.outcome is Outcome.AUTH_FAILED


async def test_a_wrong_signing_secret_is_auth_failed(hook_url: URL, egress: Egress) -> None:
    target = webhook_target(hook_url, secrets={"signing_secret": "whsec-wrong"})

    result = await WebhookCheck(egress).run(target)

    assert result.outcome is Outcome.AUTH_FAILED
    assert leaked(result, ["whsec-wrong"]) == []


async def test_without_a_signing_secret_no_signature_is_sent(
    hook_url: URL, receiver: Receiver, egress: Egress
) -> None:
    result = await WebhookCheck(egress).run(webhook_target(hook_url))

    assert result.outcome is Outcome.AUTH_FAILED
    headers, _ = receiver.received[0]
    assert "X-Connmgr-Signature" not in headers
    assert "X-Connmgr-Timestamp" in headers


async def test_the_configured_signature_header_carries_the_signature(
    serve: Serve, egress: Egress
) -> None:
    receiver = Receiver(header="X-Hub-Signature-256")
    url = (await serve(receiver.app())) / "hooks" / "connmgr"
    target = webhook_target(
        url, secrets={"signing_secret": SIGNING_SECRET}, signature_header="X-Hub-Signature-256"
    )

    assert (await WebhookCheck(egress).run(target)).outcome is Outcome.OK


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (202, Outcome.OK),
        (403, Outcome.PERMISSION_DENIED),
        (410, Outcome.PROTOCOL_ERROR),
        (500, Outcome.PROTOCOL_ERROR),
        (307, Outcome.PROTOCOL_ERROR),
    ],
)
async def test_the_receiver_status_decides_the_outcome(
    serve: Serve, egress: Egress, status: int, outcome: Outcome
) -> None:
    receiver = Receiver(status=status)
    url = (await serve(receiver.app())) / "hooks" / "connmgr"
    target = webhook_target(url, secrets={"signing_secret": SIGNING_SECRET})

    result = await WebhookCheck(egress).run(target)

    assert result.outcome is outcome
    assert len(receiver.received) == 1


async def test_the_connection_auth_method_is_applied_to_the_webhook(
    serve: Serve, egress: Egress
) -> None:
    seen: list[str | None] = []

    async def receive(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    url = (await serve(app)) / "hook"
    target = webhook_target(url, auth=BearerAuth(), secrets={"token": "wh-bearer-71"})

    result = await WebhookCheck(egress).run(target)

    assert result.outcome is Outcome.OK
    assert seen == ["Bearer wh-bearer-71"]
    assert leaked(result, ["wh-bearer-71"]) == []
