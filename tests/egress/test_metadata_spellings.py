"""Cloud metadata addresses are refused in every spelling, and IPv6 zone ids always.

Each provider's addresses are written every way a parser on this path accepts:
plain, upper case, expanded, bracketed, with a trailing dot, IPv4-mapped and
-compatible IPv6, NAT64, 6to4, Teredo, and the decimal/octal/hex/short IPv4
forms that ``inet_aton`` (and so the system resolver) reads. The positive
controls show the same policy letting a neighbouring address through, so a
refusal comes from the address and not from a policy that refuses everything.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from egress_peers import refusal

from connmgr.workers.address_spellings import literal_address
from connmgr.workers.egress import DnsFailure, Egress, EgressPolicy, IPAddress

# Loopback, link-local and private allowed, every network allowed: only the
# always-refused list can refuse.
PERMISSIVE = EgressPolicy(
    allow_loopback=True,
    allow_link_local=True,
    allow_private=True,
    allowed=(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")),
)

IMDS_V4 = [  # 169.254.169.254: AWS, GCP, Azure, Oracle
    "169.254.169.254",
    "169.254.169.254.",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "[::ffff:a9fe:a9fe]",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "::169.254.169.254",
    "::a9fe:a9fe",
    "64:ff9b::169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a9fe:a9fe",
    "2002:a9fe:a9fe::",
    "2002:a9fe:a9fe:1::1",
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254
    "2852039166",
    "2852039166.",
    "0xa9fea9fe",
    "0XA9FEA9FE",
    "0251.0376.0251.0376",
    "0xa9.0xfe.0xa9.0xfe",
    "169.254.43518",
    "169.16689662",
    "0251.254.169.254",
]
AWS_V6 = ["fd00:ec2::254", "FD00:EC2::254", "fd00:0ec2:0000::0254", "[fd00:ec2::254]"]
GCP_V6 = ["fd20:ce::254", "FD20:CE::254", "fd20:00ce:0:0:0:0:0:254"]
AZURE_WIRESERVER = ["168.63.129.16", "::ffff:168.63.129.16", "168.0x3f.129.16", "2822734096"]
ALIBABA = ["100.100.100.200", "::ffff:6464:64c8", "1684301000", "0x64.0x64.0x64.0xc8"]
ORACLE_LEGACY = ["192.0.0.192", "0300.0.0.0300", "::ffff:192.0.0.192", "2002:c000:00c0::"]
AWS_CONTAINERS = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
ZONED_METADATA = ["fd00:ec2::254%eth0", "fd00:ec2::254%25eth0", "[fd20:ce::254%1]"]


def dns(answers: dict[str, list[str]], asked: list[str]) -> Egress:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        if host not in answers:
            raise DnsFailure(host)
        return [ipaddress.ip_address(a) for a in answers[host]]

    return Egress(PERMISSIVE, resolver=resolve)


@pytest.mark.parametrize(
    "spelling",
    IMDS_V4 + AWS_V6 + GCP_V6 + AZURE_WIRESERVER + ALIBABA + ORACLE_LEGACY + AWS_CONTAINERS,
)
async def test_every_spelling_of_a_metadata_address_is_refused_without_a_lookup(
    spelling: str,
) -> None:
    asked: list[str] = []

    assert await refusal(dns({}, asked), spelling) == "cloud metadata address"
    assert asked == []


@pytest.mark.parametrize(
    "neighbour",
    ["169.254.169.253", "::ffff:a9fe:a9fd", "2852039165", "fd00:ec2::253", "fd20:ce::253",
     "168.63.129.17", "100.100.100.201", "192.0.0.193", "2002:a9fe:a9fd::"],
)  # fmt: skip
async def test_the_addresses_next_to_them_pass_the_same_policy(neighbour: str) -> None:
    assert await refusal(Egress(PERMISSIVE), neighbour) is None


@pytest.mark.parametrize("spelling", ZONED_METADATA)
async def test_a_zone_id_does_not_hide_a_metadata_address(spelling: str) -> None:
    assert await refusal(Egress(PERMISSIVE), spelling) == "cloud metadata address"


@pytest.mark.parametrize("spelling", ["fe80::1%eth0", "fe80::1%25eth0", "fd12:3456::1%eth0"])
async def test_any_zone_id_is_refused_by_the_policy(spelling: str) -> None:
    plain = spelling.split("%")[0]

    assert await refusal(Egress(PERMISSIVE), plain) is None  # the same address, unscoped
    assert await refusal(Egress(PERMISSIVE), spelling) == "IPv6 zone id"
    assert PERMISSIVE.refusal(ipaddress.ip_address(spelling)) == "IPv6 zone id"


@pytest.mark.parametrize(
    "name", ["metadata.google.internal", "METADATA.google.internal.", "metadata.goog",
             "instance-data.ec2.internal"],
)  # fmt: skip
async def test_metadata_only_names_are_refused_before_any_lookup(name: str) -> None:
    asked: list[str] = []
    # Even a DNS answer that points elsewhere does not make them acceptable.
    egress = dns({name: ["203.0.113.7"]}, asked)

    assert await refusal(egress, name) == "cloud metadata address"
    assert asked == []


async def test_a_name_resolving_to_gcp_metadata_is_refused_and_another_name_is_not() -> None:
    asked: list[str] = []
    egress = dns({"gcp.example": ["169.254.169.254"], "api.example": ["203.0.113.7"]}, asked)

    assert await refusal(egress, "gcp.example") == "cloud metadata address"
    assert await refusal(egress, "api.example") is None
    assert asked == ["gcp.example", "api.example"]


@pytest.mark.parametrize("answer", ["fd00:ec2::254%eth0", "::ffff:169.254.169.254", "fd20:ce::254"])
async def test_a_dns_answer_in_another_spelling_is_refused(answer: str) -> None:
    egress = dns({"sneaky.example": [answer]}, [])

    assert await refusal(egress, "sneaky.example") == "cloud metadata address"


@pytest.mark.parametrize(
    "spelling", ["2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518", "10", "127.1"]
)
def test_numeric_forms_are_read_as_the_system_resolver_reads_them(spelling: str) -> None:
    resolved = {info[4][0] for info in socket.getaddrinfo(spelling, 80, type=socket.SOCK_STREAM)}

    assert {str(literal_address(spelling))} == resolved


@pytest.mark.parametrize("name", ["db.internal", "cafe.be", "0x", "1.2.3.4.5", "deadbeef"])
def test_names_are_not_read_as_numeric_forms(name: str) -> None:
    assert literal_address(name) is None
