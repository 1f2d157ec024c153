"""One checked HTTP exchange, shared by the ``http`` and ``webhook`` checks.

``send`` checks the target through the egress policy, applies the auth
method, sends the request once (redirects are answers, not followed) over TLS
that always verifies (system trust plus ``ca_pem``, the certificate checked
against ``server_name`` or the URL's host) and returns the status, the body
when asked (at most ``BODY_LIMIT`` bytes) and the server's identity in fixed
forms only (``vetted``: the verified certificate's name, issuer digest and
expiry; the ``Server`` header's product if it is a known one, with its version
number). ``http_check.run_bounded`` turns
what it raises into a result.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from typing import Final

import aiohttp

from connmgr.workers.checks.base import Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_auth import Authorizer
from connmgr.workers.checks.http_outcomes import dropped_after_handshake
from connmgr.workers.checks.http_transport import (
    CheckedSession,
    Outgoing,
    RequestTimer,
    read_capped,
)
from connmgr.workers.checks.net import Stopwatch, tls_context
from connmgr.workers.checks.vetted import http_server_product
from connmgr.workers.egress import Egress

BODY_LIMIT: Final = 1024 * 1024


@dataclass(frozen=True, slots=True, repr=False)
class Reply:
    """``body`` is ``None`` when not asked for or larger than ``BODY_LIMIT``."""

    status: int
    body: bytes | None
    identity: ServerIdentity | None


@dataclass(frozen=True, slots=True)
class TlsTarget:
    ca_pem: str | None
    server_name: str | None


async def send(
    egress: Egress,
    request: Outgoing,
    *,
    authorizer: Authorizer,
    tls: TlsTarget,
    timeout_s: float,
    watch: Stopwatch,
    read_body: bool = False,
) -> Reply:
    """Send ``request`` to a checked address; raises on failures (see ``run_bounded``)."""
    timer = RequestTimer()
    async with CheckedSession(egress, timeout_s, timer) as session:
        with watch.phase("resolve"):
            await session.check(request.url)
        certificate = authorizer.client_certificate()
        context = _context_for(request, tls, certificate)
        if authorizer.adds_credentials:
            with watch.phase("auth"):
                await authorizer.apply(request, session, tls.ca_pem)
        try:
            reply = await _exchange(session, request, context, timer, read_body=read_body)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as error:
            if isinstance(error, TimeoutError) or not timer.dropped_after_handshake():
                raise
            raise dropped_after_handshake(timer.tls_failure, certificate is not None) from None
        finally:
            timer.record(watch)
    if reply.status == 401:
        authorizer.rejected()
    return reply


async def _exchange(
    session: CheckedSession,
    request: Outgoing,
    context: ssl.SSLContext | None,
    timer: RequestTimer,
    *,
    read_body: bool,
) -> Reply:
    if context is not None:
        timer.instrument(context)
    async with session.client.request(
        request.method,
        request.url,
        headers=request.headers,
        data=request.body,
        ssl=context if context is not None else True,
        allow_redirects=False,
        trace_request_ctx=timer,
    ) as response:
        timer.mark("responded")
        identity = _identity(response, timer.identity)
        body = await read_capped(response, BODY_LIMIT) if read_body else None
        timer.mark("answered")
    return Reply(response.status, body, identity)


def _context_for(
    request: Outgoing, tls: TlsTarget, client_certificate: tuple[str, str] | None
) -> ssl.SSLContext | None:
    if request.url.scheme != "https":
        if client_certificate is not None:
            raise CheckFailed(Outcome.CONFIG_ERROR, "a client certificate needs an https URL")
        return None
    cert_pem, key_pem = client_certificate or (None, None)
    try:
        return tls_context(
            server_hostname=tls.server_name or request.url.raw_host,
            ca_pem=tls.ca_pem,
            client_cert_pem=cert_pem,
            client_key_pem=key_pem,
        )
    except (ssl.SSLError, ValueError):
        raise CheckFailed(
            Outcome.CONFIG_ERROR, "the CA certificate or the client certificate cannot be loaded"
        ) from None


def _identity(
    response: aiohttp.ClientResponse, certificate: ServerIdentity | None
) -> ServerIdentity | None:
    """The verified certificate's fixed-form identity; the known product of ``Server``."""
    product = http_server_product(response.headers.get("Server"))
    if certificate is not None:
        return replace(certificate, version=product)
    return ServerIdentity(version=product) if product else None
