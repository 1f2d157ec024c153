"""The API's cache of token grants: a valid token costs one database lookup per TTL.

Contract:

- keyed by the token's SHA-256 (``hash_token``), never by its plaintext;
- only live tokens are cached: an unknown, malformed or revoked token is looked up
  every time, so a token issued a moment ago works at once;
- a grant is served from the cache for ``ttl_s`` seconds after its lookup, then
  looked up again: **a revoked token keeps working for at most ``ttl_s`` seconds**
  in each API process (revocation happens in another process, so it cannot reach
  this cache; the short TTL is the bound);
- at most ``max_entries`` grants are kept: expired ones are dropped first, then the
  oldest lookups. Tokens are few; the bound only stops the cache from growing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.tokens import TokenGrant, hash_token, is_well_formed, resolve_token_hash

TOKEN_CACHE_TTL_S: Final = 10.0
TOKEN_CACHE_MAX_ENTRIES: Final = 10_000

Clock = Callable[[], float]
"""Seconds on a monotonic clock (``time.monotonic``); tests pass one they move."""


class TokenCache:
    """Grants of live tokens by token hash, each trusted for ``ttl_s`` seconds."""

    def __init__(
        self,
        *,
        ttl_s: float = TOKEN_CACHE_TTL_S,
        max_entries: int = TOKEN_CACHE_MAX_ENTRIES,
        clock: Clock = time.monotonic,
    ) -> None:
        if ttl_s < 0 or max_entries < 1:
            raise ValueError("ttl_s must be >= 0 and max_entries >= 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._grants: dict[str, tuple[float, TokenGrant]] = {}

    async def resolve(self, engine: AsyncEngine, token: str) -> TokenGrant | None:
        """The token's grant (cached, or looked up); None when malformed, unknown or revoked."""
        if not is_well_formed(token):
            return None
        key = hash_token(token)
        cached = self._grants.get(key)
        now = self._clock()
        if cached is not None and now < cached[0]:
            return cached[1]
        grant = await resolve_token_hash(engine, key)
        if grant is None:
            self._grants.pop(key, None)
            return None
        # From the moment before the lookup: a revocation committed after it is the
        # earliest this grant can hide, so none hides for longer than ttl_s.
        self._store(key, grant, now + self.ttl_s)
        return grant

    def _store(self, key: str, grant: TokenGrant, expires: float) -> None:
        self._grants.pop(key, None)  # re-inserted last: the dict stays in lookup order
        if len(self._grants) >= self.max_entries:
            self._evict()
        self._grants[key] = (expires, grant)

    def _evict(self) -> None:
        now = self._clock()
        for key in [key for key, (expires, _) in self._grants.items() if expires <= now]:
            del self._grants[key]
        while len(self._grants) >= self.max_entries:
            del self._grants[next(iter(self._grants))]
