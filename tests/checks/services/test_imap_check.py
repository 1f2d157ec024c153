"""ImapCheck against the local IMAP4rev1 peer of ``svc_imap`` (plain, STARTTLS, implicit TLS)."""

from __future__ import annotations

from typing import Any

import pytest
from svc_contract import ServiceCheckContract
from svc_imap import ImapPeer, running
from svc_net import (
    assert_no_secret,
    loopback_egress,
    target,
)
from svc_pki import Pki

from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Check, CheckTarget, Outcome
from connmgr.workers.checks.imap import ImapCheck
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels

USER = "reader@connmgr.test"
PASSWORD = "imap-Pa55-w0rd"
HOST = "mail.connmgr.test"


def imap(
    port: int, security: str, *, password: str = PASSWORD, timeout_s: float = 5.0, **config: Any
) -> CheckTarget:
    return target(
        Kind.IMAP,
        {"host": HOST, "port": port, "security": security, **config},
        username=USER,
        secrets={"password": password},
        timeout_s=timeout_s,
    )


def peer(**options: Any) -> ImapPeer:
    return ImapPeer(users={USER: PASSWORD}, **options)


async def test_starttls_login_and_examine_with_the_private_ca_is_ok(
    pki: Pki, leak_channels: LeakChannels
) -> None:
    server = peer(starttls=pki.server_context())
    async with running(server) as port:
        result = await ImapCheck(loopback_egress()).run(
            imap(port, "starttls", mailbox="INBOX", ca_pem=pki.ca_pem)
        )
    assert result.outcome is Outcome.OK, result
    assert server.logins == [(USER, PASSWORD, True)]
    assert server.examined == ["INBOX"]
    assert {"resolve", "connect", "tls", "auth", "query"} <= result.phases.keys()
    assert result.server is not None
    assert result.server.version == "Dovecot"
    assert result.server.tls_subject == HOST
    assert_no_secret(result, leak_channels, PASSWORD)


async def test_implicit_tls_with_the_private_ca_is_ok(pki: Pki) -> None:
    server = peer()
    async with running(server, implicit=pki.server_context()) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "implicit", ca_pem=pki.ca_pem))
    assert result.outcome is Outcome.OK, result
    assert server.logins == [(USER, PASSWORD, True)]


async def test_implicit_tls_without_the_ca_is_a_tls_error_and_sends_no_password(
    pki: Pki,
) -> None:
    server = peer()
    async with running(server, implicit=pki.server_context()) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "implicit"))
    assert result.outcome is Outcome.TLS_ERROR
    assert server.logins == []


async def test_starttls_without_the_ca_is_a_tls_error_and_sends_no_password(pki: Pki) -> None:
    server = peer(starttls=pki.server_context())
    async with running(server) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "starttls"))
    assert result.outcome is Outcome.TLS_ERROR
    assert server.logins == []


async def test_a_wrong_password_is_auth_failed_without_leaking_it(
    leak_channels: LeakChannels,
) -> None:
    async with running(peer()) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "none", password="wr0ng-pw"))
    assert result.outcome is Outcome.AUTH_FAILED
    assert "AUTHENTICATIONFAILED" not in result.detail
    assert_no_secret(result, leak_channels, "wr0ng-pw")


@pytest.mark.parametrize(
    "password",
    ['with "quotes" and \\backslashes\\', "pässwörd-ß-non-ascii", "", ") LOGOUT x"],
    ids=["quoted-escapes", "literal", "empty-is-config-error", "no-injection"],
)
async def test_login_values_reach_the_server_exactly(password: str) -> None:
    server = ImapPeer(users={USER: password})
    async with running(server) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "none", password=password))
    if password:
        assert result.outcome is Outcome.OK, result
        assert server.logins == [(USER, password, False)]
    else:
        assert result.outcome is Outcome.CONFIG_ERROR
        assert server.logins == []


async def test_a_server_without_starttls_gets_no_plaintext_password() -> None:
    server = peer()
    async with running(server) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "starttls"))
    assert result.outcome is Outcome.TLS_ERROR
    assert server.logins == []


async def test_logindisabled_in_clear_is_a_tls_error_without_sending_the_password() -> None:
    server = peer(login_disabled_in_clear=True)
    async with running(server) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "none"))
    assert result.outcome is Outcome.TLS_ERROR
    assert server.logins == []


@pytest.mark.parametrize(
    ("mailbox", "outcome"),
    [
        ("Archive/2019", Outcome.CONFIG_ERROR),
        ("Shared/Board", Outcome.PERMISSION_DENIED),
        ("Entwürfe", Outcome.OK),
    ],
    ids=["missing-is-config-error", "noperm-is-permission-denied", "utf7-name-is-ok"],
)
async def test_the_mailbox_is_examined_read_only(mailbox: str, outcome: Outcome) -> None:
    server = peer(mailboxes={"INBOX", "Entw&APw-rfe"}, forbidden={"Shared/Board"})
    async with running(server) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "none", mailbox=mailbox))
    assert result.outcome is outcome, result
    assert len(server.examined) == 1


async def test_a_bye_greeting_is_a_protocol_error() -> None:
    async with running(peer(greeting="* BYE Too many connections")) as port:
        result = await ImapCheck(loopback_egress()).run(imap(port, "none"))
    assert result.outcome is Outcome.PROTOCOL_ERROR
    assert "connections" not in result.detail


class TestImapCheckContract(ServiceCheckContract):
    secrets = (PASSWORD,)

    def check(self, egress: Egress) -> Check:
        return ImapCheck(egress)

    def target(self, port: int, timeout_s: float = 5.0) -> CheckTarget:
        return imap(port, "none", timeout_s=timeout_s)
