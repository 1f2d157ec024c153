"""SmtpCheck against aiosmtpd peers (in this event loop, on loopback) with an authenticator.

The TLS peers use a certificate from the test CA (``svc_pki``): verification
fails unless the check is given ``ca_pem``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from svc_contract import ServiceCheckContract
from svc_net import (
    LOOPBACK,
    assert_no_secret,
    loopback_egress,
    target,
)
from svc_pki import Pki

from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Check, CheckTarget, Outcome
from connmgr.workers.checks.smtp import SmtpCheck
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels

USER = "mailer@connmgr.test"
PASSWORD = "s3cr3t-smtp-Pa55"
HOST = "mail.connmgr.test"


@dataclass
class SmtpPeer:
    port: int
    logins: list[tuple[str, bool]] = field(default_factory=list)
    mail_commands: int = 0

    def authenticate(
        self, server: SMTP, _session: Any, _envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((mechanism, server._tls_protocol is not None))
        accepted = (data.login, data.password) == (USER.encode(), PASSWORD.encode())
        return AuthResult(success=accepted, handled=False)

    async def handle_MAIL(self, *_args: Any) -> str:
        self.mail_commands += 1
        return "250 OK"


@contextlib.asynccontextmanager
async def smtp_peer(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit: ssl.SSLContext | None = None,
    auth_require_tls: bool = True,
    exclude: tuple[str, ...] = (),
) -> AsyncIterator[SmtpPeer]:
    loop = asyncio.get_running_loop()
    peer = SmtpPeer(port=0)

    def protocol() -> SMTP:
        return SMTP(
            peer,
            hostname=HOST,
            tls_context=starttls,
            authenticator=peer.authenticate,
            auth_require_tls=auth_require_tls,
            auth_exclude_mechanism=exclude,
            loop=loop,
        )

    server = await loop.create_server(protocol, LOOPBACK, 0, ssl=implicit)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        server.close()
        await server.wait_closed()


def smtp(
    port: int,
    security: str,
    *,
    password: str | None = PASSWORD,
    timeout_s: float = 5.0,
    **config: Any,
) -> CheckTarget:
    return target(
        Kind.SMTP,
        {"host": HOST, "port": port, "security": security, **config},
        username=USER if password is not None else None,
        secrets={"password": password} if password is not None else {},
        timeout_s=timeout_s,
    )


async def test_starttls_and_login_with_the_private_ca_is_ok(
    pki: Pki, leak_channels: LeakChannels
) -> None:
    async with smtp_peer(starttls=pki.server_context()) as peer:
        result = await SmtpCheck(loopback_egress()).run(
            smtp(peer.port, "starttls", ca_pem=pki.ca_pem)
        )
    assert result.outcome is Outcome.OK, result
    assert peer.logins == [("PLAIN", True)]
    assert peer.mail_commands == 0
    assert {"resolve", "connect", "tls", "auth"} <= result.phases.keys()
    assert result.server is not None
    assert result.server.version == "Python SMTP"
    assert result.server.tls_subject == HOST
    assert_no_secret(result, leak_channels, PASSWORD)


async def test_a_wrong_password_is_auth_failed_without_leaking_it(
    pki: Pki, leak_channels: LeakChannels
) -> None:
    async with smtp_peer(starttls=pki.server_context()) as peer:
        result = await SmtpCheck(loopback_egress()).run(
            smtp(peer.port, "starttls", password="not-the-Pa55word", ca_pem=pki.ca_pem)
        )
    assert result.outcome is Outcome.AUTH_FAILED
    assert result.server is not None
    assert result.server.tls_subject is not None
    assert_no_secret(result, leak_channels, "not-the-Pa55word")


async def test_starttls_without_the_ca_is_a_tls_error_and_sends_no_password(pki: Pki) -> None:
    async with smtp_peer(starttls=pki.server_context()) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "starttls"))
    assert result.outcome is Outcome.TLS_ERROR
    assert peer.logins == []


async def test_a_server_without_starttls_gets_no_plaintext_password() -> None:
    async with smtp_peer(auth_require_tls=False) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "starttls"))
    assert result.outcome is Outcome.TLS_ERROR
    assert "STARTTLS" in result.detail
    assert peer.logins == []


async def test_implicit_tls_with_the_private_ca_is_ok(pki: Pki) -> None:
    async with smtp_peer(implicit=pki.server_context(), auth_require_tls=False) as peer:
        result = await SmtpCheck(loopback_egress()).run(
            smtp(peer.port, "implicit", ca_pem=pki.ca_pem)
        )
    assert result.outcome is Outcome.OK, result
    assert peer.logins == [("PLAIN", False)]
    assert result.server is not None
    assert result.server.tls_not_after is not None


async def test_implicit_tls_without_the_ca_is_a_tls_error(pki: Pki) -> None:
    async with smtp_peer(implicit=pki.server_context(), auth_require_tls=False) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "implicit"))
    assert result.outcome is Outcome.TLS_ERROR
    assert peer.logins == []


async def test_auth_login_is_used_when_plain_is_not_offered() -> None:
    async with smtp_peer(auth_require_tls=False, exclude=("PLAIN",)) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "none"))
    assert result.outcome is Outcome.OK, result
    assert peer.logins == [("LOGIN", False)]


async def test_a_wrong_password_over_auth_login_is_auth_failed() -> None:
    async with smtp_peer(auth_require_tls=False, exclude=("PLAIN",)) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "none", password="nope"))
    assert result.outcome is Outcome.AUTH_FAILED


async def test_without_credentials_the_session_alone_is_checked() -> None:
    async with smtp_peer(auth_require_tls=False) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "none", password=None))
    assert result.outcome is Outcome.OK
    assert peer.logins == []


async def test_a_server_offering_no_auth_is_a_config_error() -> None:
    async with smtp_peer(auth_require_tls=True) as peer:
        result = await SmtpCheck(loopback_egress()).run(smtp(peer.port, "none"))
    assert result.outcome is Outcome.CONFIG_ERROR


async def test_a_reply_injected_ahead_of_starttls_is_a_tls_error(pki: Pki) -> None:
    async def injecting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.connmgr.test ESMTP\r\n")
        await reader.readline()
        writer.write(b"250-mail.connmgr.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
        await reader.readline()
        writer.write(b"220 go ahead\r\n235 injected: pretend you authenticated\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(injecting, LOOPBACK, 0)
    try:
        port = server.sockets[0].getsockname()[1]
        result = await SmtpCheck(loopback_egress()).run(smtp(port, "starttls", ca_pem=pki.ca_pem))
    finally:
        server.close()
        await server.wait_closed()
    assert result.outcome is Outcome.TLS_ERROR
    assert "ahead of the TLS handshake" in result.detail


class TestSmtpCheckContract(ServiceCheckContract):
    secrets = (PASSWORD,)

    def check(self, egress: Egress) -> Check:
        return SmtpCheck(egress)

    def target(self, port: int, timeout_s: float = 5.0) -> CheckTarget:
        return smtp(port, "starttls", timeout_s=timeout_s)


async def test_an_empty_ehlo_extension_line_is_ignored_not_a_crash() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail ESMTP\r\n")
        while line := await reader.readline():
            if line.upper().startswith(b"EHLO"):
                writer.write(b"250-mail\r\n250-\r\n250-AUTH PLAIN\r\n250 OK\r\n")
            elif line.upper().startswith(b"AUTH"):
                writer.write(b"235 2.7.0 accepted\r\n")
            else:
                writer.write(b"221 bye\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, LOOPBACK, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        result = await SmtpCheck(loopback_egress()).run(smtp(port, "none"))

    assert result.outcome is Outcome.OK, result  # AUTH after the empty line was still seen
