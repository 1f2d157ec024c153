"""The ``http`` check: one request to a REST API, through the egress policy.

It sends ``test.method`` to ``base_url`` + ``test.path`` (the base URL's query
first, then the path's) with the configured headers and the auth method's
credentials, over TLS that always verifies, and never follows a redirect: a
3xx is the answer. The status must equal ``test.expected_status``; then, when
configured, the body (read up to 1 MiB) must contain ``test.body_contains``
and, parsed as JSON, hold a value at ``test.json_path`` — a dotted path of
object keys and list indexes such as ``data.status`` or ``items.0.id``
(a leading ``$.`` is allowed). Outcomes: 401 ``auth_failed``, 403
``permission_denied``, any other status ``protocol_error``; failures map as in
``http_outcomes``. Details name status codes at most, never a body or header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

from multidict import CIMultiDict
from yarl import URL

from connmgr.schemas.kinds import HttpConfig, HttpTestRequest, Kind
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_auth import Authorizer
from connmgr.workers.checks.http_check import HttpBasedCheck
from connmgr.workers.checks.http_exchange import TlsTarget, send
from connmgr.workers.checks.http_outcomes import status_failure
from connmgr.workers.checks.http_transport import Outgoing
from connmgr.workers.checks.net import Stopwatch

# Framing is aiohttp's business: a configured value could only corrupt it.
_FRAMING_HEADERS: Final = frozenset(
    {"connection", "content-length", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
)


class HttpCheck(HttpBasedCheck[HttpConfig]):
    """Checks an ``http`` connection; ``tokens`` caches OAuth 2 tokens across runs."""

    kind: ClassVar[Kind] = Kind.HTTP
    config_type = HttpConfig
    wrong_config = "the configuration is not an http one"

    async def _attempt(
        self, target: CheckTarget, config: HttpConfig, authorizer: Authorizer, watch: Stopwatch
    ) -> CheckResult:
        test = config.test
        request = Outgoing(
            test.method, request_url(config.base_url, test.path), configured_headers(config.headers)
        )
        reply = await send(
            self._egress,
            request,
            authorizer=authorizer,
            tls=TlsTarget(config.ca_pem, config.server_name),
            timeout_s=target.timeout_s,
            watch=watch,
            read_body=test.json_path is not None or test.body_contains is not None,
        )
        if reply.status != test.expected_status:
            outcome, detail = status_failure(reply.status, test.expected_status)
        else:
            outcome, detail = body_verdict(test, reply.body)
        return watch.result(outcome, detail, reply.identity)


def request_url(base_url: str, path: str) -> URL:
    """``base_url``'s path joined with ``path``; both queries kept, the base's first."""
    base = urlsplit(base_url)
    path_only, _, path_query = path.partition("?")
    query = "&".join(part for part in (base.query, path_query) if part)
    prefix = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/"), "", ""))
    return URL(prefix + path_only + (f"?{query}" if query else ""))


def configured_headers(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The config's headers, framing headers left out; a broken value is a config error."""
    chosen: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if any(c in value for c in "\r\n\0"):
            raise CheckFailed(Outcome.CONFIG_ERROR, f"the configured header {name!r} is invalid")
        if name.lower() not in _FRAMING_HEADERS:
            chosen[name] = value
    return chosen


def body_verdict(test: HttpTestRequest, body: bytes | None) -> tuple[Outcome, str]:
    """The outcome of the body checks, once the status was the expected one."""
    if test.json_path is None and test.body_contains is None:
        return Outcome.OK, f"the server answered with the expected status {test.expected_status}"
    if body is None:
        return Outcome.PROTOCOL_ERROR, "the response body is larger than the 1 MiB limit"
    if test.body_contains is not None and test.body_contains not in body.decode("utf-8", "replace"):
        return Outcome.PROTOCOL_ERROR, "the response body does not contain the expected text"
    if test.json_path is not None:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return Outcome.PROTOCOL_ERROR, "the response body is not JSON"
        if not json_path_exists(document, test.json_path):
            return Outcome.PROTOCOL_ERROR, "the response has no value at the configured JSON path"
    return Outcome.OK, "the server answered with the expected status and body"


def json_path_exists(document: object, path: str) -> bool:
    """True when every segment of the dotted ``path`` names a key or an index that exists."""
    current = document
    for segment in path.removeprefix("$").removeprefix(".").split("."):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and _index(segment) < len(current):
            current = current[int(segment)]
        else:
            return False
    return True


def _index(segment: str) -> int:
    """A list index segment's value; a non-index is past every list's end."""
    return int(segment) if segment.isascii() and segment.isdigit() else 2**63
