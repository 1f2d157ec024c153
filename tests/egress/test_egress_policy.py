"""The egress policy: which resolved addresses a check may connect to.

See ``docs/security.md``, "Egress".

DNS names are modelled with a fake resolver; numeric spellings that only the
system resolver understands (``0x7f.1``, ``2130706433``) go through the real one,
which parses them without any network lookup.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

import pytest
from egress_peers import refusal

from connmgr.workers.egress import DnsFailure, Egress, EgressPolicy, IPAddress

METADATA = ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"]
LOOPBACK = ["127.0.0.1", "127.1.2.3", "::ffff:127.0.0.1", "::ffff:7f00:1"]
LINK_LOCAL = ["169.254.10.20", "fe80::1"]
PRIVATE = ["10.1.2.3", "172.16.5.4", "192.168.0.10", "fd12:3456::1"]
PERMISSIVE = EgressPolicy(
    allow_loopback=True,
    allow_link_local=True,
    allow_private=True,
    allowed=(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")),
)


def egress_with(policy: EgressPolicy, answers: Mapping[str, Sequence[str]] | None = None) -> Egress:
    """An ``Egress`` whose DNS answers come from ``answers`` (unknown names do not resolve)."""
    table = {
        name: [ipaddress.ip_address(address) for address in addresses]
        for name, addresses in (answers or {}).items()
    }

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise DnsFailure(host)
        return list(table[host])

    return Egress(policy, resolver=resolve)


@pytest.mark.parametrize("address", METADATA)
async def test_metadata_addresses_are_refused_whatever_the_policy_allows(address: str) -> None:
    assert await refusal(Egress(PERMISSIVE), address) == "cloud metadata address"


@pytest.mark.parametrize("address", ["::ffff:169.254.169.254", "::ffff:a9fe:a9fe"])
async def test_other_spellings_of_a_metadata_address_are_refused(address: str) -> None:
    assert await refusal(Egress(PERMISSIVE), address) == "cloud metadata address"


async def test_a_name_resolving_to_a_metadata_address_is_refused() -> None:
    egress = egress_with(PERMISSIVE, {"metadata.google.internal": ["169.254.169.254"]})

    assert await refusal(egress, "metadata.google.internal") == "cloud metadata address"


@pytest.mark.parametrize("address", LOOPBACK)
async def test_loopback_is_refused_unless_the_operator_allows_it(address: str) -> None:
    assert await refusal(Egress(EgressPolicy()), address) == "loopback address"
    assert await refusal(Egress(EgressPolicy(allow_loopback=True)), address) is None


@pytest.mark.parametrize("address", ["::1", "[::1]"])
async def test_ipv6_loopback_is_refused_by_default(address: str) -> None:
    assert await refusal(Egress(EgressPolicy()), address) is not None


async def test_ipv6_loopback_is_allowed_when_the_operator_allows_loopback() -> None:
    assert await refusal(Egress(EgressPolicy(allow_loopback=True)), "::1") is None


@pytest.mark.parametrize("spelling", ["0x7f.1", "2130706433", "127.1", "0177.0.0.1"])
async def test_numeric_spellings_of_loopback_are_refused_after_resolution(spelling: str) -> None:
    assert await refusal(Egress(EgressPolicy()), spelling) == "loopback address"


@pytest.mark.parametrize("address", LINK_LOCAL)
async def test_link_local_is_refused_unless_the_operator_allows_it(address: str) -> None:
    assert await refusal(Egress(EgressPolicy()), address) == "link-local address"
    assert await refusal(Egress(EgressPolicy(allow_link_local=True)), address) is None


@pytest.mark.parametrize("address", PRIVATE)
async def test_private_addresses_are_refused_when_not_allowed(address: str) -> None:
    assert await refusal(Egress(EgressPolicy(allow_private=False)), address) == "private address"
    assert await refusal(Egress(EgressPolicy()), address) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1"])
async def test_non_unicast_addresses_are_refused(address: str) -> None:
    assert await refusal(Egress(PERMISSIVE), address) == "not a unicast address"


async def test_denied_cidrs_win_over_every_allowance() -> None:
    policy = EgressPolicy(
        allow_loopback=True,
        allowed=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.0/8")),
        denied=(ipaddress.ip_network("10.9.0.0/16"), ipaddress.ip_network("127.0.0.2/32")),
    )

    assert await refusal(Egress(policy), "10.9.1.1") == "denied by policy"
    assert await refusal(Egress(policy), "127.0.0.2") == "denied by policy"
    assert await refusal(Egress(policy), "::ffff:10.9.1.1") == "denied by policy"
    assert await refusal(Egress(policy), "10.8.1.1") is None


async def test_allowed_cidrs_limit_the_targets() -> None:
    policy = EgressPolicy(allowed=(ipaddress.ip_network("203.0.113.0/24"),))

    assert await refusal(Egress(policy), "203.0.113.5") is None
    assert await refusal(Egress(policy), "198.51.100.7") == "outside the allowed networks"


async def test_a_name_with_one_refused_address_among_its_answers_is_refused() -> None:
    egress = egress_with(
        EgressPolicy(allow_private=False), {"api.example.com": ["203.0.113.10", "10.0.0.5"]}
    )

    assert await refusal(egress, "api.example.com") == "private address"


async def test_checked_addresses_come_back_in_one_spelling() -> None:
    egress = egress_with(
        EgressPolicy(), {"api.example.com": ["::ffff:203.0.113.10", "2001:db8::1"]}
    )

    addresses = await egress.resolve("api.example.com", 443)

    assert addresses == [ipaddress.ip_address("203.0.113.10"), ipaddress.ip_address("2001:db8::1")]


async def test_a_name_without_answers_is_a_dns_failure() -> None:
    with pytest.raises(DnsFailure):
        await egress_with(EgressPolicy(), {"empty.example.com": []}).resolve(
            "empty.example.com", 443
        )


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "169.254.10.20", "fe80::1"])
async def test_allowed_loopback_and_link_local_are_not_refused_as_private(address: str) -> None:
    """Loopback and link-local addresses count as private to ``ipaddress``; once the
    operator allows them, refusing private addresses must not refuse them again."""
    policy = EgressPolicy(allow_loopback=True, allow_link_local=True, allow_private=False)

    assert await refusal(Egress(policy), address) is None


async def test_refusing_private_addresses_lets_public_ones_through() -> None:
    policy = EgressPolicy(allow_private=False)

    assert await refusal(Egress(policy), "8.8.8.8") is None
    assert await refusal(Egress(policy), "2606:4700::1111") is None
    assert await refusal(Egress(policy), "10.1.2.3") == "private address"
    assert await refusal(Egress(policy), "fd12:3456::1") == "private address"


async def test_a_private_network_the_operator_allows_is_not_refused_as_private() -> None:
    policy = EgressPolicy(allow_private=False, allowed=(ipaddress.ip_network("10.20.0.0/16"),))

    assert await refusal(Egress(policy), "10.20.1.1") is None
    assert await refusal(Egress(policy), "10.21.1.1") == "private address"


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ("64:ff9b::7f00:1", "loopback address"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::1", "loopback address"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a01:203", "private address"),  # NAT64 of 10.1.2.3
    ],
)
async def test_an_ipv4_address_carried_in_ipv6_is_judged_itself(spelling: str, reason: str) -> None:
    """The IPv4 address an IPv6 spelling carries is judged, with its own reason."""
    policy = EgressPolicy(allow_private=False)
    assert await refusal(Egress(policy), spelling) == reason


async def test_an_ipv6_only_network_may_allow_its_nat64_prefix_alone() -> None:
    """``allowed_cidrs`` limits the address dialled, not the IPv4 one a NAT64 address
    carries: allowing ``64:ff9b::/96`` lets its public IPv4 targets through."""
    policy = EgressPolicy(allowed=(ipaddress.ip_network("64:ff9b::/96"),))

    assert await refusal(Egress(policy), "64:ff9b::808:808") is None  # 8.8.8.8
    assert await refusal(Egress(policy), "8.8.8.8") == "outside the allowed networks"
    assert await refusal(Egress(policy), "64:ff9b::a01:203") is None  # 10.1.2.3, private allowed
    assert await refusal(Egress(policy), "64:ff9b::7f00:1") == "loopback address"


async def test_a_nat64_address_is_judged_by_the_ipv4_address_it_carries() -> None:
    """``64:ff9b::/96`` lies in IPv6's reserved ``::/8`` to ``ipaddress``; the packet
    still reaches the IPv4 address it carries, so that address decides."""
    policy = EgressPolicy()

    assert await refusal(Egress(policy), "64:ff9b::808:808") is None
    assert await refusal(Egress(policy), "64:ff9b:1::808:808") is None
    assert await refusal(Egress(policy), "64:ff9b::") == "not a unicast address"  # 0.0.0.0
    assert await refusal(Egress(policy), "64:ff9b::e000:1") == "not a unicast address"


async def test_the_resolver_is_asked_for_the_checks_port() -> None:
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append((host, port))
        return [ipaddress.ip_address("203.0.113.10")]

    await Egress(EgressPolicy(), resolver=resolve).resolve("api.example.com", 8443)

    assert asked == [("api.example.com", 8443)]


async def test_a_dns_failure_names_the_host() -> None:
    with pytest.raises(DnsFailure) as failure:
        await egress_with(EgressPolicy(), {"empty.example.com": []}).resolve(
            "empty.example.com", 443
        )

    assert str(failure.value) == "empty.example.com"
