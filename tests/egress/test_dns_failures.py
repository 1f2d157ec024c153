"""A host name that does not resolve is ``dns_error`` for every kind, never ``unreachable``.

The names end in ``.invalid`` (RFC 6761: never resolves), looked up by the real
system resolver, whose ``socket.gaierror`` the egress step wraps. The positive
control runs the same checks against ``localhost``, which resolves: the egress
policy then refuses the loopback address, so the lookup path itself works and
only the name decides the outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import Kind, parse_config
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.registry import build_checks
from connmgr.workers.egress import Egress, EgressPolicy


def config_for(kind: Kind, host: str) -> dict[str, Any]:
    """A minimal valid config of ``kind`` whose target is ``host``."""
    url = f"http://{host}/"
    return {
        Kind.POSTGRES: {"host": host, "database": "orders"},
        Kind.MYSQL: {"host": host},
        Kind.MONGODB: {"host": host},
        Kind.REDIS: {"host": host},
        Kind.HTTP: {"base_url": url},
        Kind.WEBHOOK: {"url": url},
        Kind.S3: {"bucket": "orders", "endpoint_url": url, "addressing_style": "path"},
        Kind.SMTP: {"host": host},
        Kind.IMAP: {"host": host},
        Kind.TCP: {"host": host, "port": 7},
    }[kind]


def target(kind: Kind, host: str) -> CheckTarget:
    return CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=kind,
        config=parse_config(kind, config_for(kind, host)),
        auth=BasicAuth(username="app"),
        secrets={"password": "pw-dns-3c1f"},
        timeout_s=5.0,
    )


@pytest.mark.parametrize("kind", list(Kind))
async def test_a_name_that_does_not_resolve_is_a_dns_error(kind: Kind) -> None:
    check = build_checks(Egress(EgressPolicy()))[kind]

    result = await check.run(target(kind, "no-such-host.connmgr.invalid"))

    assert (result.outcome, result.detail) == (Outcome.DNS_ERROR, "the host name does not resolve")


@pytest.mark.parametrize("kind", list(Kind))
async def test_a_name_that_resolves_is_judged_by_the_policy_instead(kind: Kind) -> None:
    check = build_checks(Egress(EgressPolicy()))[kind]

    result = await check.run(target(kind, "localhost"))

    assert result.outcome is Outcome.REFUSED_BY_POLICY
