"""E-mail channels: recipients from the ``notify`` field, mailed to a local aiosmtpd peer."""

from __future__ import annotations

import asyncio
import contextlib
import email
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP
from notifier_peers import TENANT, alert_event
from notifier_stack import StartStack

from connmgr.schemas.connection_auth import BasicAuth, NoAuth
from connmgr.schemas.kinds import Kind, SmtpConfig
from connmgr.schemas.recipients import MAX_RECIPIENTS
from connmgr.storage.projection_store import rebuild
from connmgr.workers.checks.base import CheckTarget
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.notifier.channels import Channel, ChannelFormat
from connmgr.workers.notifier.delivery import DeliveryPolicy
from connmgr.workers.notifier.email import MailSender, addresses_of
from connmgr.workers.notifier.notices import AlertNotice
from support.commands import command, subject_of
from support.legacy_events import LEGACY_DESCRIPTION, append_events, smtp_created_v1
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


def channel(
    port: int, *, security: str = "none", notify: Any = None, login: bool = False
) -> Channel:
    config = SmtpConfig(host="127.0.0.1", port=port, security=security)
    target = CheckTarget(
        connection_id="5f1f7c36-4444-4a6b-9a51-000000000004",
        kind=Kind.SMTP,
        config=config,
        auth=BasicAuth(username="alerts@example.com") if login else NoAuth(),
        secrets={"password": PASSWORD} if login else {},
        timeout_s=5.0,
    )
    return Channel(target.connection_id, ChannelFormat.EMAIL, target, notify)


def to(*recipients: str, sender: str | None = None) -> dict[str, Any]:
    return {"recipients": list(recipients), "sender": sender}


def sender(egress: Egress | None = None) -> MailSender:
    policy = DeliveryPolicy(timeout_s=5)
    return MailSender(egress or Egress(EgressPolicy(allow_loopback=True)), policy)


def test_a_stored_notify_field_gives_its_valid_addresses_and_never_raises() -> None:
    stored = {
        "recipients": [
            "ops@example.com",
            "oncall@example.com",
            "ops@example.com",
            "evil@example.com\r\nBcc: spy@example.com",
            "a@b",
            7,
            None,
        ],
        "sender": "alerts@example.com",
    }
    assert addresses_of(stored) == (["ops@example.com", "oncall@example.com"], "alerts@example.com")
    assert addresses_of({"recipients": "ops@example.com", "sender": ["x"]}) == ([], None)
    assert addresses_of({"recipients": ["ok@example.com"], "sender": "spoof\r\nBcc: x"}) == (
        ["ok@example.com"],
        None,
    )
    assert addresses_of(None) == ([], None)
    assert addresses_of({}) == ([], None)
    many = [f"user{n}@example.com" for n in range(MAX_RECIPIENTS + 5)]
    assert addresses_of({"recipients": many})[0] == many[:MAX_RECIPIENTS]


async def test_an_alert_is_mailed_to_the_recipients() -> None:
    async with mail_peer() as peer:
        attempt = await sender().send(channel(peer.port, notify=to("ops@example.com")), NOTICE)
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
            channel(peer.port, security="starttls", notify=to("a@example.com"), login=True),
            NOTICE,
        )
    assert (attempt.delivered, attempt.code, attempt.permanent) == (False, "tls_error", False)
    assert peer.mail_commands == 0


async def test_a_channel_without_recipients_is_misconfigured_and_never_connects() -> None:
    async with mail_peer() as peer:
        attempt = await sender().send(channel(peer.port, notify=None), NOTICE)
    assert (attempt.code, attempt.permanent) == ("config_error", True)
    assert peer.connections == 0


async def test_a_mail_server_the_egress_policy_refuses_is_never_contacted() -> None:
    async with mail_peer() as peer:
        attempt = await sender(Egress(EgressPolicy())).send(
            channel(peer.port, notify=to("a@example.com")), NOTICE
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
            "notify": {"recipients": ["ops@example.com"]},
        }
        await stack.create(payload)
        subject, body, _ = alert_event(await stack.watched())
        await stack.publish(subject, body)
        (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    assert sent.data["channel_format"] == "email"
    assert [envelope.rcpt_tos for envelope in peer.messages] == [["ops@example.com"]]


async def test_a_channel_whose_stored_addresses_are_all_malformed_is_misconfigured() -> None:
    malformed = {"recipients": ["ops@example.com\r\nBcc: spy@example.com", "a@b"], "sender": 1}
    async with mail_peer() as peer:
        attempt = await sender().send(channel(peer.port, notify=malformed), NOTICE)
        garbage = await sender().send(channel(peer.port, notify={"recipients": {"a": 1}}), NOTICE)
    assert (attempt.code, attempt.permanent) == ("config_error", True)
    assert (garbage.code, garbage.permanent) == ("config_error", True)
    assert peer.connections == 0


async def test_only_the_valid_addresses_are_mailed_and_no_header_is_injected() -> None:
    notify = {"recipients": ["ops@example.com", "x@example.com\nBcc: spy@example.com"]}
    notice = replace(NOTICE, connection_name="orders\r\nBcc: spy@example.com")
    async with mail_peer() as peer:
        attempt = await sender().send(channel(peer.port, notify=notify), notice)
    assert attempt.delivered
    (envelope,) = peer.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    message = email.message_from_bytes(envelope.content)
    assert message["Bcc"] is None
    assert message["Subject"] == "[connmgr] [DOWN] orders Bcc: spy@example.com"


def mail_channel(port: int, *recipients: str, sender: str | None = None) -> dict[str, Any]:
    return {
        "name": f"mail-{uuid.uuid4().hex[:6]}",
        "kind": "smtp",
        "config": {"host": "127.0.0.1", "port": port, "security": "none"},
        "auth": {"method": "none"},
        "tags": ["notify"],
        "notify": {"recipients": list(recipients), "sender": sender},
    }


async def test_recipients_never_receive_another_tenants_alerts(start_stack: StartStack) -> None:
    stack = await start_stack()
    async with mail_peer() as peer:
        own = await stack.create(mail_channel(peer.port, "ops@example.com"))
        spy = mail_channel(peer.port, "spy@example.com", sender="ops@example.com")
        await stack.create(spy, tenant="other")
        redirected = {"notify": {"recipients": ["spy@example.com"]}}
        hijack = command("update", own, redirected, tenant="other")
        redirect = await stack.encryptor.one(hijack, subject=subject_of(hijack, "other"))
        for count, tenant in enumerate(("other", TENANT), start=1):  # the spy's works for "other"
            subject, body, _ = alert_event(await stack.watched(tenant), tenant=tenant)
            await stack.publish(subject, body)
            await wait_for(lambda n=count: _sent(stack, n), timeout=20)
        await wait_for(stack.settled, timeout=20)
    assert (redirect.outcome, redirect.reason) == ("rejected", "not_found")
    mailed = {envelope.rcpt_tos[0]: envelope for envelope in peer.messages}
    assert sorted(mailed) == ["ops@example.com", "spy@example.com"]
    assert [len(envelope.rcpt_tos) for envelope in peer.messages] == [1, 1]
    acme = email.message_from_bytes(mailed["ops@example.com"].content).get_payload()
    other = email.message_from_bytes(mailed["spy@example.com"].content).get_payload()
    assert "Tenant: acme" in acme
    assert "Tenant: other" in other
    assert "Tenant: acme" not in other


async def _sent(stack: Any, count: int) -> bool:
    return len(await stack.events_of("NotificationSent")) >= count


async def test_a_channel_stored_before_the_field_mails_its_notify_to_lines(
    start_stack: StartStack,
) -> None:
    stack = await start_stack()
    async with mail_peer() as peer:
        channel = str(uuid.uuid4())
        created = smtp_created_v1(LEGACY_DESCRIPTION, port=peer.port)
        await append_events(stack.engine, channel, ("ConnectionCreated", created))
        await rebuild(stack.engine)
        subject, body, _ = alert_event(await stack.watched())
        await stack.publish(subject, body)
        (sent,) = await wait_for(lambda: stack.events_of("NotificationSent"), timeout=20)
    assert str(sent.data["channel_id"]) == channel
    (envelope,) = peer.messages
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com", "evil@example.com"]
    message = email.message_from_bytes(envelope.content)
    assert (message["From"], message["Bcc"]) == ("alerts@example.com", None)
