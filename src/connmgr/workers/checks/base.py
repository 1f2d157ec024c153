"""The interface every kind's check implements, and the result it returns.

A check gets the decrypted secrets in memory only, connects through the egress
policy (``workers.egress``), and returns a ``CheckResult`` whose ``detail`` is a
fixed sentence chosen by the check — never a driver message, banner, stack
trace or secret. Checks never raise for a failed target: every failure maps to
an ``Outcome``; only a bug raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from connmgr.schemas.connection_auth import Auth
from connmgr.schemas.kinds import Kind, KindConfig


class Outcome(StrEnum):
    """The outcome codes of a check: the whole taxonomy, recorded as ``result.outcome``.

    ``ok``; ``auth_failed`` (the target refused the credentials);
    ``unreachable`` (the name resolved, but no checked address accepted a
    connection, or the service said it is unavailable); ``timeout``;
    ``dns_error`` (the host name did not resolve: no answer, or no address);
    ``tls_error``; ``refused_by_policy`` (the egress policy refused every way to
    the target; nothing was sent); ``protocol_error`` (the answer was not what
    the kind speaks, or not the expected one); ``permission_denied`` (logged in,
    but not allowed what the check needs); ``config_error`` (the connection's
    own settings or secrets cannot work).
    """

    OK = "ok"
    AUTH_FAILED = "auth_failed"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    TLS_ERROR = "tls_error"
    REFUSED_BY_POLICY = "refused_by_policy"
    PROTOCOL_ERROR = "protocol_error"
    PERMISSION_DENIED = "permission_denied"
    CONFIG_ERROR = "config_error"


@dataclass(frozen=True, slots=True)
class CheckTarget:
    connection_id: str
    kind: Kind
    config: KindConfig
    auth: Auth
    secrets: Mapping[str, str] = field(repr=False)
    timeout_s: float


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """Server facts in fixed forms only; ``workers.checks.vetted`` makes them."""

    version: str | None = None
    tls_subject: str | None = None
    tls_issuer: str | None = None
    tls_not_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """``phases`` in milliseconds, keyed ``resolve``, ``connect``, ``tls``, ``auth``, ``query``;
    ``phase_starts`` when each began, in milliseconds after the check's stopwatch started
    (read only by the trace's phase spans, ``checks.check_spans``; never recorded)."""

    outcome: Outcome
    detail: str
    latency_ms: float
    phases: dict[str, float] = field(default_factory=dict)
    server: ServerIdentity | None = None
    phase_starts: dict[str, float] = field(default_factory=dict)


class Check(Protocol):
    kind: ClassVar[Kind]

    async def run(self, target: CheckTarget) -> CheckResult: ...
