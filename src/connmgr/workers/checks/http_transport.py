"""An aiohttp session whose every connection goes to an egress-checked address.

``CheckedSession.check`` resolves a URL's host through ``Egress.resolve``
(every address checked; ``EgressRefused`` or ``DnsFailure`` otherwise) and pins
the checked addresses in the session's ``CheckedResolver``, which then hands
aiohttp exactly those addresses, so the socket reaches a checked address while
the URL's hostname is kept for TLS. The check runs before any request, which
also covers IP-literal URLs (aiohttp does not consult a resolver for them). Redirects are never
followed, proxies and cookies never used.

``RequestTimer`` splits one request's time into ``connect``, ``tls`` and
``query`` (request sent to answer read) from aiohttp traces and the TLS
object's handshake calls: aiohttp makes the TCP connection and the handshake
in one step, so the handshake is timed on the ``SSLObject`` itself.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from types import SimpleNamespace, TracebackType
from typing import Any, Final

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from connmgr.workers.checks.base import ServerIdentity
from connmgr.workers.checks.checked_resolver import CheckedResolver
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.checks.vetted import certificate_identity
from connmgr.workers.egress import Egress

USER_AGENT: Final = "connmgr-check/1"


@dataclass(slots=True, repr=False)
class Outgoing:
    """The request a check is about to send; auth adds headers or query parameters."""

    method: str
    url: URL
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes | None = None


class RequestTimer:
    """Phase marks of the one request sent with ``trace_request_ctx=timer``.

    ``identity`` is the verified peer certificate of the instrumented TLS
    handshake in fixed forms (``vetted``; aiohttp may release the connection
    before the answer is seen);
    ``tls_failure`` a TLS error that arrived after it, such as a TLS 1.3
    server's alert refusing the client certificate, which aiohttp reports only
    as a disconnection.
    """

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.identity: ServerIdentity | None = None
        self.tls_failure: ssl.SSLError | None = None

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.perf_counter())

    def instrument(self, context: ssl.SSLContext) -> None:
        """Time the TLS handshake of connections made with ``context``."""
        timer = self

        class TimedSSLObject(ssl.SSLObject):
            def do_handshake(self) -> None:
                timer.mark("tls_start")
                super().do_handshake()
                timer.mark("tls_end")
                timer.identity = certificate_identity(self)

            def read(self, size: int = 1024, buffer: Any = None) -> Any:
                try:
                    return super().read(size, buffer)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLZeroReturnError):
                    raise
                except ssl.SSLError as error:
                    timer.tls_failure = error
                    raise

        context.sslobject_class = TimedSSLObject

    def dropped_after_handshake(self) -> bool:
        """The TLS handshake completed and no answer has arrived (yet)."""
        return "tls_end" in self.marks and "responded" not in self.marks

    def trace_config(self) -> aiohttp.TraceConfig:
        """The trace configuration marking this timer's request (shared: see ``_TRACE``)."""
        return _TRACE

    def record(self, watch: Stopwatch) -> None:
        """Add the phases measured so far to ``watch`` (milliseconds)."""
        marks = self.marks
        tls_start = marks.get("tls_start")
        spans = {
            "connect": ("connect_start", "tls_start" if tls_start else "connected"),
            "tls": ("tls_start", "tls_end"),
            "query": ("connected", "answered"),
        }
        for phase, (begin, end) in spans.items():
            if begin in marks and end in marks:
                watch.phases[phase] = round((marks[end] - marks[begin]) * 1000, 3)
                watch.starts[phase] = watch.offset_ms(marks[begin])


async def _connect_started(_: object, context: SimpleNamespace, __: object) -> None:
    if isinstance(timer := context.trace_request_ctx, RequestTimer):
        timer.mark("connect_start")


async def _connect_ended(_: object, context: SimpleNamespace, __: object) -> None:
    if isinstance(timer := context.trace_request_ctx, RequestTimer):
        timer.mark("connected")


def _shared_trace() -> aiohttp.TraceConfig:
    """One trace configuration for every check's session: each request's marks go to
    the ``RequestTimer`` it was sent with (``trace_request_ctx``). Issue 15: building
    one per check (a dozen signals each) was ~5% of a prober's CPU in a profile."""
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_connect_started)
    config.on_connection_create_end.append(_connect_ended)
    config.freeze()
    return config


_TRACE: Final = _shared_trace()


class CheckedSession:
    """One check's HTTP client: checked addresses only, no redirects, proxies or cookies."""

    def __init__(self, egress: Egress, timeout_s: float, timer: RequestTimer) -> None:
        self._resolver = CheckedResolver(egress)
        connector = aiohttp.TCPConnector(
            resolver=self._resolver, use_dns_cache=False, force_close=True, limit=4
        )
        self.client = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
            trace_configs=[timer.trace_config()],
        )

    async def check(self, url: URL) -> None:
        """Resolve and check ``url``'s host; raises ``EgressRefused`` or ``DnsFailure``."""
        await self._resolver.check(url.raw_host or "", url.port or 0)

    async def __aenter__(self) -> CheckedSession:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.client.close()


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The (decoded) body if it holds at most ``limit`` bytes, else ``None``."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
