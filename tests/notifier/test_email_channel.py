"""E-mail channels: recipients from the description, sent through an aiosmtpd peer on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import email
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP
from notifier_peers import alert_event
from notifier_stack import StartStack

from connmgr.schemas.auth import BasicAuth, NoAuth
from connmgr.schemas.kinds import Kind, SmtpConfig
from connmgr.workers.checks.base import CheckTarget
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.notifier.channels import Channel, ChannelFormat
from connmgr.workers.notifier.delivery import DeliveryPolicy
from connmgr.workers.notifier.email import MailSender, addresses_in
from connmgr.workers.notifier.notices import AlertNotice
from support.waiting import wait_for

PASSWORD = "smtp-Pa55-Never-Sent"
NOTICE = AlertNotice(
    event_id="5f1f7c36-1111-4a6b-9a51-000000000001",
    event_type="AlertRaised",
    tenant="acme",
    connection_id="5f1f7c36-2222-4a6b-9a51-000000000002",
    alert_id="5f1f7c36-3333-4a6b-9a51-000000000003",
    at=datetime(2026, 1, 1, tzinfo=UTC),
    status="down",
    reason="3 consecutive failures",
    connection_name="orders-db",
    connection_kind="postgres",
)


@dataclass
class MailPeer:
    port: int = 0
    connections: int = 0
    mail_commands: int = 0
    messages: list[Any] = field(default_factory=list)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, _: Any
    ) -> str:
        self.mail_commands += 1
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@contextlib.asynccontextmanager
async def mail_peer() -> AsyncIterator[MailPeer]:
    loop = asyncio.get_running_loop()
    peer = MailPeer()

    def protocol() -> SMTP:
        peer.connections += 1
        return SMTP(peer, hostname="mail.connmgr.test", auth_require_tls=True, loop=loop)

    server = await loop.create_server(protocol, "127.0.0.1", 0)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        server.close()
        await server.wait_closed()


def channel(port: int, *, security: str = "none", description: str, login: bool = False) -> Channel:
    config = SmtpConfig(host="127.0.0.1", port=port, security=security)
    target = CheckTarget(
        connection_id="5f1f7c36-4444-4a6b-9a51-000000000004",
        kind=Kind.SMTP,
        config=config,
        auth=BasicAuth(username="alerts@example.com") if login else NoAuth(),
        secrets={"password": PASSWORD} if login else {},
        timeout_s=5.0,
    )
    return Channel(target.connection_id, ChannelFormat.EMAIL, target, description)


def sender(egress: Egress | None = None) -> MailSender:
    policy = DeliveryPolicy(timeout_s=5)
    return MailSender(egress or Egress(EgressPolicy(allow_loopback=True)), policy)


def test_recipients_come_from_notify_to_lines_and_nothing_else_becomes_a_header() -> None:
    description = (
        "Pager rota.\nnotify_to: ops@example.com, oncall@example.com;ops@example.com\n"
        "notify_from: alerts@example.com\nmanaged by admin@example.com\n"
        "notify_to: evil@example.com\rBcc: spy@example.com"
    )
    recipients, sender_address = addresses_in(description)
    assert recipients == ["ops@example.com", "oncall@example.com", "evil@example.com"]
    assert sender_address == "alerts@example.com"
    assert addresses_in("no directives here") == ([], None)


async def test_an_alert_is_mailed_to_the_recipients() -> None:
    async with mail_peer() as peer:
        attempt = await sender().send(
            channel(peer.port, description="notify_to: ops@example.com"), NOTICE
        )
    assert attempt.delivered
    (envelope,) = peer.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    message = email.message_from_bytes(envelope.content)
    assert message["Subject"] == "[connmgr] [DOWN] orders-db"
    assert message["From"] == "connmgr@127.0.0.1"
    assert "orders-db (postgres) is down: 3 consecutive failures" in message.get_payload()


async def test_without_starttls_offered_no_password_and_no_mail_is_sent() -> None:
    async with mail_peer() as peer:
        attempt = await sender().send(
            channel(
                peer.port, security="starttls", description="notify_to: a@example.com", login=True
            ),
            NOTICE,
        )
    assert (attempt.delivered, attempt.code, attempt.permanent) == (False, "tls_error", False)
    assert peer.mail_commands == 0


async def test_a_channel_without_recipients_is_misconfigured_and_never_connects() -> None:
    async with mail_peer() as peer:
        attempt = await sender().send(channel(peer.port, description="no one"), NOTICE)
    assert (attempt.code, attempt.permanent) == ("config_error", True)
    assert peer.connections == 0


async def test_a_mail_server_the_egress_policy_refuses_is_never_contacted() -> None:
    async with mail_peer() as peer:
        attempt = await sender(Egress(EgressPolicy())).send(
            channel(peer.port, description="notify_to: a@example.com"), NOTICE
        )
    assert (attempt.code, attempt.permanent) == ("refused_by_policy", True)
    assert peer.connections == 0


async def test_the_pool_mails_an_alert_through_a_stored_smtp_connection(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    async with mail_peer() as peer:
        payload = {
            "name": "mail-alerts",
            "kind": "smtp",
            "config": {"host": "127.0.0.1", "port": peer.port, "security": "none"},
            "auth": {"method": "none"},
            "tags": ["notify:warning"],
            "description": "notify_to: ops@example.com",
        }
        await stack.create(payload)
        subject, body, _ = alert_event(await stack.watched())
        await stack.publish(subject, body)
        (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    assert sent.data["channel_format"] == "email"
    assert [envelope.rcpt_tos for envelope in peer.messages] == [["ops@example.com"]]
