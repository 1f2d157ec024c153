"""IP address spellings the egress policy sees through, and the cloud metadata catalogue.

One address has many spellings. ``unscoped`` drops an IPv6 zone id
(``fe80::1%eth0``: ``IPv6Address`` equality includes the scope, so a scoped
metadata address would compare unequal to the catalogue's). ``carried_ipv4``
lists every IPv4 address an IPv6 address leads to: IPv4-mapped
(``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (RFC 6052's
``64:ff9b::/96`` and RFC 8215's local-use ``64:ff9b:1::/48``, the IPv4 in the
last 32 bits), 6to4 (``2002::/16``) and Teredo's client (``2001::/32``).
``normalise`` is the one spelling a check connects to. Decimal, octal, hex and
short IPv4 forms (``2852039166``, ``0251.0376.0251.0376``, ``0xa9fea9fe``,
``169.254.43518``) are not addresses to ``ipaddress``, but the system resolver
(``inet_aton``) accepts them: ``literal_address`` reads them the same way, so
they are judged as the address they spell without any lookup, with or without
a trailing dot.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata and platform endpoints that hand out credentials or host
# control; refused whatever the operator allows.
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, OpenStack, DigitalOcean IMDS
        "fd00:ec2::254",  # AWS IMDS over IPv6 (Nitro)
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
        "168.63.129.16",  # Azure WireServer (host agent, DNS, health)
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata (legacy address)
    )
)
# Names that exist only to reach a metadata service: refused before any lookup.
METADATA_NAMES: Final = frozenset(
    {"metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"}
)
_LEGACY_IPV4: Final = re.compile(
    r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}$"
)
_NAT64: Final = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def has_zone_id(address: IPAddress) -> bool:
    """True for an IPv6 address with a zone id (``fe80::1%eth0``, ``…%25eth0`` decoded or not)."""
    return isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None


def unscoped(address: IPAddress) -> IPAddress:
    """``address`` without its IPv6 zone id (an IPv4 address as it is)."""
    return ipaddress.IPv6Address(address.packed) if has_zone_id(address) else address


def carried_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address that ``address`` embeds and a packet to it may reach."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    carried: list[ipaddress.IPv4Address | None] = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        carried.append(address.teredo[1])
    if address.packed[:12] == b"\0" * 12 and int(address) > 1:
        carried.append(ipaddress.IPv4Address(address.packed[12:]))
    if is_nat64(address):
        carried.append(ipaddress.IPv4Address(address.packed[12:]))
    return [ipv4 for ipv4 in carried if ipv4 is not None]


def normalise(address: IPAddress) -> IPAddress:
    """One spelling per address: IPv4-mapped/compatible/6to4 IPv6 become IPv4, no zone id."""
    plain = unscoped(address)
    if isinstance(plain, ipaddress.IPv6Address):
        if plain.ipv4_mapped is not None:
            return plain.ipv4_mapped
        if plain.sixtofour is not None:
            return plain.sixtofour
        if plain.packed[:12] == b"\0" * 12 and int(plain) > 1:
            return ipaddress.IPv4Address(plain.packed[12:])
    return plain


def is_nat64(address: IPAddress) -> bool:
    """True for an address of a NAT64 prefix: a gateway forwards it to the IPv4 one it ends with."""
    return isinstance(address, ipaddress.IPv6Address) and any(
        address in network for network in _NAT64
    )


def is_metadata(address: IPAddress) -> bool:
    """True when ``address``, in any spelling, is a cloud metadata address."""
    plain = unscoped(address)
    return any(candidate in METADATA_ADDRESSES for candidate in (plain, *carried_ipv4(plain)))


def is_metadata_name(host: str) -> bool:
    """True for a metadata-only name, whatever its case or trailing dots."""
    return host.rstrip(".").lower() in METADATA_NAMES


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells (brackets and trailing dots aside), or None for a name.

    Besides ``ipaddress``'s forms, the numeric IPv4 forms ``inet_aton`` accepts
    (one to four parts, each decimal, octal with a leading 0 or hex with 0x).
    """
    bare = host.rstrip(".").removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not _LEGACY_IPV4.match(bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None
