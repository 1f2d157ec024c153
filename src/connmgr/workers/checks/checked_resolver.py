"""An aiohttp resolver that only ever answers with egress-checked addresses.

``check`` resolves a host through ``Egress.resolve`` (every address checked;
``EgressRefused`` or ``DnsFailure`` otherwise) and pins the answer. aiohttp's
lookups then get the pinned addresses; a host not checked yet is resolved
through the policy the same way and pinned too. The socket therefore only
reaches addresses the policy accepted, with no re-resolution window between
the check and the connect (no DNS rebinding), while the hostname is kept for
TLS.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from connmgr.workers.egress import Egress, IPAddress


class CheckedResolver(AbstractResolver):
    """Answers with the addresses checked for ``(host, port)``, checking on first ask."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._pinned: dict[tuple[str, int], list[IPAddress]] = {}

    async def check(self, host: str, port: int) -> None:
        """Resolve and check ``host``, and pin its addresses; raises on refusal."""
        self._pinned[(host, port)] = await self._egress.resolve(host, port)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not self._pinned.get((host, port)):
            await self.check(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self._pinned[(host, port)]
        ]

    async def close(self) -> None:
        self._pinned.clear()
