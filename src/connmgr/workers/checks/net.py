"""What every check shares: phase timing, TLS contexts, checked connections, failures.

``open_checked`` is the one way a check opens a TCP connection itself: resolve
through the egress policy, connect to a checked address, then TLS with the
original hostname. For drivers that open their own sockets, pass the checked IP
as the host and a ``tls_context(..., server_hostname=name)``: the context pins
SNI and certificate verification to the name even though the driver connects
by address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from connmgr.workers.checks.base import CheckResult, Outcome, ServerIdentity
from connmgr.workers.checks.vetted import stream_identity
from connmgr.workers.egress import DnsFailure, Egress, EgressRefused, IPAddress


@dataclass
class Stopwatch:
    """Phase timings in milliseconds, and the total since creation; ``starts`` holds when
    each phase began, in milliseconds after creation (the trace's phase spans)."""

    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    starts: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round((time.perf_counter() - begin) * 1000, 3)
            self.starts[name] = self.offset_ms(begin)

    def offset_ms(self, moment: float) -> float:
        """``moment`` (a ``perf_counter`` reading) in milliseconds after creation."""
        return round((moment - self.started) * 1000, 3)

    def total_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)

    def result(
        self, outcome: Outcome, detail: str, server: ServerIdentity | None = None
    ) -> CheckResult:
        return CheckResult(
            outcome, detail, self.total_ms(), dict(self.phases), server, dict(self.starts)
        )


class _PinnedHostnameContext(ssl.SSLContext):
    """Verifies (and sends SNI for) one hostname, whatever address the socket reached."""

    pinned_hostname: str | None = None

    def wrap_bio(
        self,
        incoming: Any,
        outgoing: Any,
        server_side: bool = False,
        server_hostname: Any = None,
        session: Any = None,
    ) -> ssl.SSLObject:
        hostname = self.pinned_hostname or server_hostname
        return super().wrap_bio(incoming, outgoing, server_side, hostname, session)

    def wrap_socket(
        self,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: Any = None,
        session: Any = None,
    ) -> ssl.SSLSocket:
        hostname = self.pinned_hostname or server_hostname
        return super().wrap_socket(
            sock, server_side, do_handshake_on_connect, suppress_ragged_eofs, hostname, session
        )


def tls_context(
    *,
    server_hostname: str | None,
    ca_pem: str | None = None,
    client_cert_pem: str | None = None,
    client_key_pem: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client context: system trust plus ``ca_pem``, TLS 1.2+, hostname verified.

    An absolute name's trailing dot (``api.example.com.``) is dropped: certificates
    and SNI name hosts without it (RFC 6066 section 3), as aiohttp and browsers do.
    ``verify=False`` exists only for modes a user chose explicitly (PostgreSQL and
    MySQL ``ssl: require``); everything else verifies.
    """
    context = _PinnedHostnameContext(ssl.PROTOCOL_TLS_CLIENT)
    context.pinned_hostname = server_hostname.rstrip(".") if server_hostname else None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_default_certs()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    if client_cert_pem and client_key_pem:
        _load_client_certificate(context, client_cert_pem, client_key_pem)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_client_certificate(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """ssl loads certificates from files only: use a private, at-once-deleted file."""
    import os
    import tempfile

    descriptor, path = tempfile.mkstemp(prefix="connmgr-mtls-")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(cert_pem + "\n" + key_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


@dataclass
class CheckedConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    address: IPAddress

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def open_checked(
    egress: Egress,
    host: str,
    port: int,
    watch: Stopwatch,
    *,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> CheckedConnection:
    """Resolve, check, connect to the first reachable checked address, then TLS.

    Raises ``EgressRefused``, ``DnsFailure``, ``OSError``, ``ssl.SSLError``; the
    caller's timeout bounds the whole.
    """
    with watch.phase("resolve"):
        addresses = await egress.resolve(host, port)
    error: OSError | None = None
    for address in addresses:
        try:
            with watch.phase("connect"):
                reader, writer = await asyncio.open_connection(str(address), port)
        except OSError as failure:
            error = failure
            continue
        if tls is not None:
            with watch.phase("tls"):
                await writer.start_tls(tls, server_hostname=server_hostname or host)
        return CheckedConnection(reader, writer, address)
    raise error or OSError("no address")


def tls_identity(writer: asyncio.StreamWriter) -> ServerIdentity | None:
    """The verified certificate's identity, in fixed forms only (``vetted``)."""
    return stream_identity(writer)


def classify(error: BaseException) -> tuple[Outcome, str]:
    """The outcome and fixed detail sentence for a failure common to every kind."""
    match error:
        case EgressRefused():
            return (
                Outcome.REFUSED_BY_POLICY,
                f"the target is refused by the egress policy ({error})",
            )
        case DnsFailure():
            return Outcome.DNS_ERROR, "the host name does not resolve"
        case TimeoutError():
            return Outcome.TIMEOUT, "the target did not answer within the timeout"
        case ssl.SSLCertVerificationError():
            return Outcome.TLS_ERROR, "the server certificate could not be verified"
        case ssl.SSLError():
            return Outcome.TLS_ERROR, "the TLS handshake failed"
        case ConnectionRefusedError():
            return Outcome.UNREACHABLE, "the connection was refused"
        case OSError():
            return Outcome.UNREACHABLE, "the target could not be reached"
        case _:
            return Outcome.PROTOCOL_ERROR, "the server answered in an unexpected way"
