"""Where the egress policy's inputs come from: the operator's settings and the system resolver.

The policy is built from deployment settings only (docs/security.md, egress), and
every address the system resolver answers is handed to it without its zone id
and without repeats. The resolver is the real one: ``localhost`` and literal
addresses resolve without a network; ``.invalid`` names never do (RFC 6761).
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from connmgr.schemas.settings import Settings
from connmgr.workers.egress import DnsFailure, EgressPolicy, system_resolver


def test_the_policy_is_the_operators_settings() -> None:
    settings = Settings(
        egress_allow_loopback=True,
        egress_allow_link_local=True,
        egress_allow_private=False,
        egress_allowed_cidrs=["203.0.113.0/24", "2001:db8::/32"],
        egress_denied_cidrs=["203.0.113.128/25"],
    )

    assert EgressPolicy.from_settings(settings) == EgressPolicy(
        allow_loopback=True,
        allow_link_local=True,
        allow_private=False,
        allowed=(ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("2001:db8::/32")),
        denied=(ipaddress.ip_network("203.0.113.128/25"),),
    )


def test_the_default_settings_give_the_default_policy() -> None:
    assert EgressPolicy.from_settings(Settings()) == EgressPolicy()


def test_a_cidr_with_host_bits_set_names_its_network() -> None:
    """Operators write ``10.1.2.3/8`` for ``10.0.0.0/8``; it is read, not refused."""
    settings = Settings(egress_denied_cidrs=["10.1.2.3/8"], egress_allowed_cidrs=["fd00::1/8"])

    policy = EgressPolicy.from_settings(settings)

    assert policy.denied == (ipaddress.ip_network("10.0.0.0/8"),)
    assert policy.allowed == (ipaddress.ip_network("fd00::/8"),)


async def test_the_system_resolver_answers_each_address_once() -> None:
    addresses = await system_resolver("localhost", 5432)

    assert ipaddress.ip_address("127.0.0.1") in addresses
    assert len(addresses) == len(set(addresses))
    assert all(isinstance(a, ipaddress.IPv4Address | ipaddress.IPv6Address) for a in addresses)


async def test_the_system_resolver_drops_a_zone_id() -> None:
    assert await system_resolver("fe80::1%lo", 443) == [ipaddress.ip_address("fe80::1")]


async def test_a_name_that_does_not_resolve_is_a_dns_failure_naming_it() -> None:
    with pytest.raises(DnsFailure) as failure:
        await system_resolver("nothing-here.invalid", 443)

    assert str(failure.value) == "nothing-here.invalid"
    assert isinstance(failure.value.__cause__, socket.gaierror)
