"""The egress policy: resolve, check every address, connect to it (``docs/security.md``, "Egress").

Before any check connects, the target is resolved and *every* resolved address
is checked against the operator's policy (deployment settings, never a
command). Cloud metadata addresses are always refused; loopback and
link-local only when the operator allows them; ``allowed_cidrs`` (when set)
limits targets, and ``denied_cidrs`` always wins. The check then connects to a
checked address, keeping the hostname for TLS (SNI and certificate
verification), so a DNS answer that changes between check and connect
(rebinding) cannot move the connection.

Every spelling of an address is judged as the address it reaches
(``address_spellings``): a zone id is dropped before the metadata comparison
and then refused itself, and each IPv4 address an IPv6 one carries (mapped,
compatible, NAT64, 6to4, Teredo) is judged too, except against
``allowed_cidrs`` (an IPv6-only network may allow its NAT64 prefix alone).
Metadata-only names are refused before they are looked up, with or without
their trailing dot.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from connmgr.schemas.settings import Settings
from connmgr.workers.address_spellings import (
    METADATA_ADDRESSES,
    IPAddress,
    carried_ipv4,
    has_zone_id,
    is_metadata,
    is_metadata_name,
    is_nat64,
    literal_address,
    normalise,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
__all__ = ["METADATA_ADDRESSES", "IPAddress", "normalise"]  # re-exported spellings

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class EgressFailure(Exception):
    """A failure of the egress step itself: its own outcome, whatever it wraps.

    Failure classifiers that walk an error's causes stop here: a ``DnsFailure``
    wraps the resolver's ``socket.gaierror``, an ``OSError`` that would
    otherwise read as ``unreachable``.
    """


class EgressRefused(EgressFailure):
    """The target resolves to an address the policy refuses; nothing was sent to it."""


class DnsFailure(EgressFailure):
    """The target's name did not resolve."""


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    allow_loopback: bool = False
    allow_link_local: bool = False
    allow_private: bool = True
    allowed: tuple[IPNetwork, ...] = ()
    denied: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        return cls(
            allow_loopback=settings.egress_allow_loopback,
            allow_link_local=settings.egress_allow_link_local,
            allow_private=settings.egress_allow_private,
            allowed=_networks(settings.egress_allowed_cidrs),
            denied=_networks(settings.egress_denied_cidrs),
        )

    def refusal(self, raw: IPAddress) -> str | None:
        """Why the address is refused, or None when a check may connect to it."""
        if is_metadata(raw):
            return "cloud metadata address"
        if has_zone_id(raw):
            return "IPv6 zone id"
        reason = self._refusal_of(normalise(raw), within_allowed=True)
        for carried in carried_ipv4(raw):
            reason = reason or self._refusal_of(carried, within_allowed=False)
        return reason

    def _refusal_of(self, address: IPAddress, *, within_allowed: bool) -> str | None:
        if any(address in network for network in self.denied):
            return "denied by policy"
        if address.is_loopback and not self.allow_loopback:
            return "loopback address"
        if address.is_link_local and not self.allow_link_local:
            return "link-local address"
        # ::1 counts as reserved, and so does NAT64's 64:ff9b::/96 (it lies in ::/8):
        # a NAT64 address is judged by the IPv4 address it carries instead.
        special = address.is_loopback or address.is_link_local or is_nat64(address)
        if not special and (address.is_unspecified or address.is_multicast or address.is_reserved):
            return "not a unicast address"
        if self._private(address) and not self.allow_private:
            return "private address"
        if within_allowed and self.allowed and not self._explicitly_allowed(address):
            return "outside the allowed networks"
        return None

    def _private(self, address: IPAddress) -> bool:
        special = address.is_loopback or address.is_link_local
        return address.is_private and not special and not self._explicitly_allowed(address)

    def _explicitly_allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allowed)


def _networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise DnsFailure(host) from error
    # Since Python 3.7 the address in ``sockaddr`` carries no ``%zone`` (a scoped
    # one would be refused as an IPv6 zone id anyway).
    addresses = [ipaddress.ip_address(str(info[4][0])) for info in infos]
    return list(dict.fromkeys(addresses))


class Egress:
    """Resolves and checks targets; every connection a check opens goes through here."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self._resolver = resolver

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Checked addresses of ``host``; raises ``EgressRefused`` if any is refused."""
        if is_metadata_name(host):
            raise EgressRefused("cloud metadata address")
        literal = literal_address(host)
        addresses = [literal] if literal is not None else await self._resolver(host, port)
        if not addresses:
            raise DnsFailure(host)
        for address in addresses:
            if (reason := self.policy.refusal(address)) is not None:
                raise EgressRefused(reason)
        return [normalise(address) for address in addresses]
