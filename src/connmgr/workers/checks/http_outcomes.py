"""How the HTTP-based checks turn statuses and failures into outcomes.

Every sentence here is fixed: it may name a status code, never a reason
phrase, a header value, a response body or an exception message (which can
carry a URL with a query-string key). ``CheckFailed`` is how the auth and
token code report a failure of their own with such a sentence.
"""

from __future__ import annotations

import ssl
from typing import Final

import aiohttp

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.net import classify
from connmgr.workers.egress import EgressFailure

# Alerts a TLS server sends when it does not accept the client certificate.
_CLIENT_CERTIFICATE_ALERTS: Final = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)
_CLOSED_UNANSWERED: Final = "the server closed the connection without an answer"


CheckFailure = CheckFailed  # the name the notifier's delivery imports


def status_failure(status: int, expected: int | None) -> tuple[Outcome, str]:
    """The outcome of a status that is not the expected one (``None``: any 2xx was expected)."""
    wanted = "a 2xx status" if expected is None else f"status {expected}"
    if status == 401:
        return Outcome.AUTH_FAILED, "the server refused the credentials (status 401)"
    if status == 403:
        return Outcome.PERMISSION_DENIED, "the server denied access to the resource (status 403)"
    if 300 <= status < 400:
        return (
            Outcome.PROTOCOL_ERROR,
            f"the server answered with a redirect (status {status}), which is not followed",
        )
    return Outcome.PROTOCOL_ERROR, f"the server answered with status {status}, expected {wanted}"


def _root_cause(error: BaseException) -> BaseException:
    """The innermost error aiohttp wrapped (``os_error``, ``certificate_error``, causes).

    The walk stops at an ``EgressFailure``: what it wraps is not the outcome.
    """
    seen: set[int] = set()
    while id(error) not in seen and not isinstance(error, EgressFailure):
        seen.add(id(error))
        inner = (
            getattr(error, "certificate_error", None)
            or getattr(error, "os_error", None)
            or error.__cause__
        )
        if not isinstance(inner, BaseException) or inner is error:
            break
        error = inner
    return error


def failure_outcome(error: BaseException, *, sent_client_certificate: bool) -> tuple[Outcome, str]:
    """The outcome of an exception raised while checking an HTTP target."""
    if isinstance(error, CheckFailed):
        return error.outcome, error.detail
    if isinstance(error, TimeoutError):
        return classify(error)
    cause = _root_cause(error)
    rejected_certificate = getattr(cause, "reason", None) in _CLIENT_CERTIFICATE_ALERTS
    if sent_client_certificate and isinstance(cause, ssl.SSLError) and rejected_certificate:
        return Outcome.AUTH_FAILED, "the server did not accept the client certificate"
    if isinstance(cause, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return Outcome.PROTOCOL_ERROR, "the server's answer is not valid HTTP"
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return Outcome.PROTOCOL_ERROR, _CLOSED_UNANSWERED
    return classify(cause)


def dropped_after_handshake(
    tls_failure: ssl.SSLError | None, sent_client_certificate: bool
) -> CheckFailed:
    """The failure when a server drops the connection after the TLS handshake, unanswered.

    A TLS 1.3 server checks the client certificate only after the handshake
    completed on the client's side; it then sends an alert and closes, and the
    reset that follows often overtakes the alert. With a client certificate
    sent, that is its refusal.
    """
    if sent_client_certificate:
        return CheckFailed(Outcome.AUTH_FAILED, "the server did not accept the client certificate")
    if tls_failure is not None and tls_failure.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED":
        return CheckFailed(Outcome.TLS_ERROR, "the server requires a client certificate")
    return CheckFailed(Outcome.PROTOCOL_ERROR, _CLOSED_UNANSWERED)
