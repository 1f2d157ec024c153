"""The API's token cache: one lookup per token per TTL, live grants only, keyed by hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.manual_clock import ManualClock, counted_statements
from connmgr.api.token_cache import TOKEN_CACHE_MAX_ENTRIES, TOKEN_CACHE_TTL_S, TokenCache
from connmgr.storage.tokens import (
    READ_SCOPES,
    SCOPE_EVENTS_READ,
    TokenGrant,
    hash_token,
    issue_token,
    revoke_token,
)
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


async def test_a_lookup_again_makes_a_grant_the_newest_so_the_other_one_is_evicted(
    engine: AsyncEngine,
) -> None:
    """Contract (``token_cache``): past the bound, the oldest *lookup* goes, not the
    oldest token: a grant looked up again after its TTL counts as new."""
    first, second, third = [
        await issue_token(engine, f"t{index}", "acme", ["read"]) for index in range(3)
    ]
    clock = ManualClock()
    cache = TokenCache(ttl_s=10.0, max_entries=2, clock=clock)
    await cache.resolve(engine, first)
    clock.advance(5.0)
    await cache.resolve(engine, second)
    clock.advance(5.0)
    await cache.resolve(engine, first)  # expired: looked up again, now the newest
    await cache.resolve(engine, third)  # evicts the oldest lookup: second

    with counted_statements(engine) as statements:
        await cache.resolve(engine, first)
        await cache.resolve(engine, third)
    with counted_statements(engine) as again:
        await cache.resolve(engine, second)

    assert (len(statements), len(again)) == (0, 1)


async def test_a_grant_looked_up_again_below_the_bound_moves_to_the_newest_place(
    engine: AsyncEngine,
) -> None:
    first, second, third, fourth = [
        await issue_token(engine, f"t{index}", "acme", ["read"]) for index in range(4)
    ]
    clock = ManualClock()
    cache = TokenCache(ttl_s=10.0, max_entries=3, clock=clock)
    await cache.resolve(engine, first)
    clock.advance(5.0)
    await cache.resolve(engine, second)
    clock.advance(5.0)
    await cache.resolve(engine, first)  # no eviction needed: re-stored, now the newest
    await cache.resolve(engine, third)
    await cache.resolve(engine, fourth)  # evicts the oldest lookup: second

    with counted_statements(engine) as kept:
        for token in (first, third, fourth):
            await cache.resolve(engine, token)
    with counted_statements(engine) as evicted:
        await cache.resolve(engine, second)

    assert (len(kept), len(evicted)) == (0, 1)


async def test_expired_grants_are_dropped_before_a_live_one_is_evicted(
    engine: AsyncEngine,
) -> None:
    first, second, third = [
        await issue_token(engine, f"t{index}", "acme", ["read"]) for index in range(3)
    ]
    clock = ManualClock()
    cache = TokenCache(ttl_s=10.0, max_entries=2, clock=clock)
    await cache.resolve(engine, first)
    await cache.resolve(engine, second)
    clock.advance(10.0)  # both expire exactly now

    await cache.resolve(engine, third)

    assert list(vars(cache)["_grants"]) == [hash_token(third)]


async def test_a_refused_token_leaves_nothing_in_the_cache(engine: AsyncEngine) -> None:
    """Contract (``token_cache``): only live tokens are cached."""
    token = await issue_token(engine, "dash", "acme", ["read"])
    clock = ManualClock()
    cache = TokenCache(ttl_s=10.0, clock=clock)
    await cache.resolve(engine, token)
    await revoke_token(engine, token)
    clock.advance(10.0)

    assert await cache.resolve(engine, token) is None
    assert await cache.resolve(engine, "cm_unknown") is None
    assert vars(cache)["_grants"] == {}


async def test_each_token_gets_its_own_tenants_grant_from_the_cache(engine: AsyncEngine) -> None:
    """A grant cached for one tenant's token never answers for another tenant's."""
    acme = await issue_token(engine, "dash", "acme", ["read"])
    globex = await issue_token(engine, "dash", "globex", [SCOPE_EVENTS_READ])
    cache = TokenCache(clock=ManualClock())

    grants = [await cache.resolve(engine, token) for token in (acme, globex, acme, globex)]

    assert [grant and (grant.tenant, grant.scopes) for grant in grants] == [
        ("acme", READ_SCOPES),
        ("globex", frozenset({SCOPE_EVENTS_READ})),
    ] * 2
    assert await cache.resolve(engine, globex + "x") is None


async def test_the_longest_well_formed_token_is_looked_up_and_a_longer_one_is_not(
    engine: AsyncEngine,
) -> None:
    cache = TokenCache(clock=ManualClock())

    with counted_statements(engine) as longest:
        assert await cache.resolve(engine, "cm_" + "a" * 125) is None
    with counted_statements(engine) as longer:
        assert await cache.resolve(engine, "cm_" + "a" * 126) is None

    assert (len(longest), len(longer)) == (1, 0)


def test_the_defaults_are_the_documented_bounds() -> None:
    cache = TokenCache()

    assert (cache.ttl_s, cache.max_entries) == (TOKEN_CACHE_TTL_S, TOKEN_CACHE_MAX_ENTRIES)
    assert TOKEN_CACHE_TTL_S == 10.0


@pytest.mark.parametrize(("ttl_s", "max_entries"), [(0.0, 1), (10.0, 1)])
async def test_the_smallest_bounds_are_accepted(
    engine: AsyncEngine, ttl_s: float, max_entries: int
) -> None:
    """A TTL of 0 looks every token up; one entry is a cache of the last lookup."""
    token = await issue_token(engine, "dash", "acme", ["read"])
    cache = TokenCache(ttl_s=ttl_s, max_entries=max_entries, clock=ManualClock())

    with counted_statements(engine) as statements:
        assert await cache.resolve(engine, token) is not None
        assert await cache.resolve(engine, token) is not None

    assert len(statements) == (2 if ttl_s == 0 else 1)


@pytest.mark.parametrize(("ttl_s", "max_entries"), [(-1.0, 10), (10.0, 0)])
def test_a_cache_refuses_nonsense_bounds(ttl_s: float, max_entries: int) -> None:
    with pytest.raises(ValueError, match="ttl_s") as refused:
        TokenCache(ttl_s=ttl_s, max_entries=max_entries)

    assert str(refused.value) == "ttl_s must be >= 0 and max_entries >= 1"


def test_the_readme_states_how_long_a_revoked_token_keeps_working() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()

    assert f"for up to {TOKEN_CACHE_TTL_S:g} seconds after its revocation" in readme
