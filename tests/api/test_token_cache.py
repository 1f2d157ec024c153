"""The API's token cache: one lookup per token per TTL, live grants only, keyed by hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.manual_clock import ManualClock, counted_statements
from connmgr.api.token_cache import TOKEN_CACHE_TTL_S, TokenCache
from connmgr.storage.tokens import TokenGrant, issue_token, revoke_token
from support.secret_scan import SecretScanner


async def test_a_valid_token_is_looked_up_once_per_ttl(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "dash", "acme", ["read"])
    clock = ManualClock()
    cache = TokenCache(clock=clock)

    with counted_statements(engine) as statements:
        grants = [await cache.resolve(engine, token) for _ in range(5)]
        clock.advance(TOKEN_CACHE_TTL_S)
        again = await cache.resolve(engine, token)

    assert len(statements) == 2
    assert grants[0] == again
    assert grants[0] is not None
    assert grants[0].tenant == "acme"
    assert all(grant == grants[0] for grant in grants)


async def test_a_revoked_token_is_refused_when_its_grant_expires(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "dash", "acme", ["read"])
    clock = ManualClock()
    cache = TokenCache(ttl_s=10.0, clock=clock)
    assert await cache.resolve(engine, token) is not None

    await revoke_token(engine, token)
    clock.advance(9.9)
    still = await cache.resolve(engine, token)
    clock.advance(0.1)
    expired = await cache.resolve(engine, token)

    assert still is not None
    assert expired is None


async def test_unknown_tokens_are_looked_up_every_time_and_malformed_ones_never(
    engine: AsyncEngine,
) -> None:
    cache = TokenCache(clock=ManualClock())

    with counted_statements(engine) as statements:
        for token in ("cm_unknown", "cm_unknown", "Bearer-x", "cm_" + "a" * 500, ""):
            assert await cache.resolve(engine, token) is None

    assert len(statements) == 2


async def test_a_token_issued_after_a_refused_attempt_works_at_once(engine: AsyncEngine) -> None:
    cache = TokenCache(clock=ManualClock())
    assert await cache.resolve(engine, "cm_not-yet") is None

    token = await issue_token(engine, "late", "acme", ["read"])

    assert await cache.resolve(engine, token) is not None


async def test_the_cache_is_bounded_and_drops_the_oldest_lookup(engine: AsyncEngine) -> None:
    tokens = [await issue_token(engine, f"t{index}", "acme", ["read"]) for index in range(3)]
    cache = TokenCache(max_entries=2, clock=ManualClock())

    for token in tokens:
        await cache.resolve(engine, token)
    with counted_statements(engine) as statements:
        await cache.resolve(engine, tokens[2])
        await cache.resolve(engine, tokens[1])
        await cache.resolve(engine, tokens[0])

    assert len(statements) == 1  # only the first token was evicted


async def test_the_cache_holds_token_hashes_never_plaintext(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "dash", "acme", ["read"])
    cache = TokenCache(clock=ManualClock())

    grant = await cache.resolve(engine, token)

    assert isinstance(grant, TokenGrant)
    scanner = SecretScanner()
    scanner.add("token", token)
    scanner.add("token without its prefix", token.removeprefix("cm_"))
    scanner.assert_clean({"cache": repr(vars(cache)), "grant": repr(grant)})


@pytest.mark.parametrize(("ttl_s", "max_entries"), [(-1.0, 10), (10.0, 0)])
def test_a_cache_refuses_nonsense_bounds(ttl_s: float, max_entries: int) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        TokenCache(ttl_s=ttl_s, max_entries=max_entries)


def test_the_readme_states_how_long_a_revoked_token_keeps_working() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()

    assert f"for up to {TOKEN_CACHE_TTL_S:g} seconds after its revocation" in readme
