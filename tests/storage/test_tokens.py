"""API tokens: stored hashed, bound to a tenant and scopes, revocable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.tables import api_tokens
from connmgr.storage.tokens import (
    OPERATOR_TENANT,
    READ_SCOPES,
    SCOPE_COMMANDS_WRITE,
    SCOPE_CONNECTIONS_READ,
    SCOPE_EVENTS_READ,
    SCOPE_METRICS_READ,
    TENANT_SCOPES,
    TokenGrant,
    expand_scopes,
    hash_token,
    issue_operator_token,
    issue_token,
    list_tokens,
    resolve_token,
    revoke_token,
    revoke_tokens_named,
)


async def test_an_issued_token_resolves_to_its_tenant_and_scopes(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "dashboard", "acme", [SCOPE_EVENTS_READ])

    grant = await resolve_token(engine, token)

    assert grant == TokenGrant(
        name="dashboard", tenant="acme", scopes=frozenset({SCOPE_EVENTS_READ})
    )
    assert grant.allows(SCOPE_EVENTS_READ)
    assert not grant.allows(SCOPE_CONNECTIONS_READ)


async def test_read_is_shorthand_for_every_read_scope(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "dev", "default", ["read"])

    grant = await resolve_token(engine, token)

    assert grant is not None
    assert grant.scopes == READ_SCOPES == {SCOPE_CONNECTIONS_READ, SCOPE_EVENTS_READ}
    assert not grant.allows(SCOPE_METRICS_READ)


async def test_tokens_are_prefixed_random_and_stored_only_as_their_hash(
    engine: AsyncEngine,
) -> None:
    tokens = [await issue_token(engine, "t", "acme", ["read"]) for _ in range(3)]

    async with engine.connect() as connection:
        rows = (await connection.execute(select(api_tokens))).mappings().all()

    assert len(set(tokens)) == 3
    assert all(token.startswith("cm_") and len(token) == 46 for token in tokens)
    assert {row["token_hash"] for row in rows} == {hash_token(token) for token in tokens}
    stored = str([dict(row) for row in rows])
    assert not any(token in stored or token[3:] in stored for token in tokens)


@pytest.mark.parametrize("token", ["", "cm_", "cm_unknown", "xx_abc", "cm_" + "a" * 500])
async def test_an_unknown_or_malformed_token_resolves_to_nothing(
    engine: AsyncEngine, token: str
) -> None:
    await issue_token(engine, "t", "acme", ["read"])

    assert await resolve_token(engine, token) is None


async def test_a_revoked_token_resolves_to_nothing_and_others_still_work(
    engine: AsyncEngine,
) -> None:
    revoked = await issue_token(engine, "a", "acme", ["read"])
    kept = await issue_token(engine, "b", "acme", ["read"])

    assert await revoke_token(engine, revoked) is True
    assert await revoke_token(engine, revoked) is False

    assert await resolve_token(engine, revoked) is None
    assert await resolve_token(engine, kept) is not None


async def test_tokens_can_be_revoked_by_name_within_a_tenant(engine: AsyncEngine) -> None:
    first = await issue_token(engine, "ci", "acme", ["read"])
    second = await issue_token(engine, "ci", "acme", ["read"])
    other_tenant = await issue_token(engine, "ci", "globex", ["read"])

    assert await revoke_tokens_named(engine, "acme", "ci") == 2
    assert await revoke_tokens_named(engine, "acme", "ci") == 0  # none left alive

    assert await resolve_token(engine, first) is None
    assert await resolve_token(engine, second) is None
    assert await resolve_token(engine, other_tenant) is not None


@pytest.mark.parametrize(
    ("name", "tenant", "scopes", "message"),
    [
        ("t", "acme", ["write"], "unknown scope"),
        ("t", "acme", [], "a token needs at least one scope"),
        ("t", "Not A Tenant", ["read"], r"tenant must match \[a-z0-9_-\]\{1,64\}"),
        ("", "acme", ["read"], "name must be 1 to 200 characters"),
        ("t", "acme", [SCOPE_METRICS_READ], "a tenant token cannot carry"),
        ("t", "acme", ["read", SCOPE_METRICS_READ], "a tenant token cannot carry"),
    ],
)
async def test_issue_refuses_bad_input(
    engine: AsyncEngine, name: str, tenant: str, scopes: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        await issue_token(engine, name, tenant, scopes)

    assert refused.match("^" + message)


async def test_an_operator_token_has_metrics_read_and_no_tenant(engine: AsyncEngine) -> None:
    token = await issue_operator_token(engine, "scraper")

    grant = await resolve_token(engine, token)

    assert grant == TokenGrant(
        name="scraper", tenant=OPERATOR_TENANT, scopes=frozenset({SCOPE_METRICS_READ})
    )
    assert grant.operator
    assert not grant.allows(SCOPE_CONNECTIONS_READ)


async def test_a_tenant_token_may_write_commands_and_is_no_operator(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "producer", "acme", [SCOPE_COMMANDS_WRITE, "read"])

    grant = await resolve_token(engine, token)

    assert grant is not None
    assert grant.allows(SCOPE_COMMANDS_WRITE)
    assert grant.allows(SCOPE_EVENTS_READ)
    assert not grant.operator
    assert not grant.allows(SCOPE_METRICS_READ)


async def test_revoking_operator_tokens_by_name(engine: AsyncEngine) -> None:
    token = await issue_operator_token(engine, "scraper")

    assert await revoke_tokens_named(engine, OPERATOR_TENANT, "scraper") == 1
    assert await resolve_token(engine, token) is None


@pytest.mark.parametrize(("length", "accepted"), [(1, True), (200, True), (201, False)])
async def test_a_token_name_is_1_to_200_characters(
    engine: AsyncEngine, length: int, accepted: bool
) -> None:
    if not accepted:
        with pytest.raises(ValueError, match="name must be 1 to 200 characters"):
            await issue_token(engine, "n" * length, "acme", ["read"])
        return
    token = await issue_token(engine, "n" * length, "acme", ["read"])

    grant = await resolve_token(engine, token)

    assert grant is not None
    assert grant.name == "n" * length


@pytest.fixture(autouse=True)
def _local_zone_restored() -> Iterator[None]:
    yield
    time.tzset()  # after monkeypatch has put TZ back


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
async def test_an_issued_token_row_records_when_it_was_created_and_is_live(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """The creation time is UTC whatever the host's local zone."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    before = datetime.now(UTC)
    token = await issue_token(engine, "dash", "acme", ["read"])
    after = datetime.now(UTC)

    async with engine.connect() as connection:
        row = (await connection.execute(select(api_tokens))).mappings().one()

    created = row["created_at"]
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    assert before <= created <= after
    assert row["token_hash"] == hash_token(token)
    assert (row["name"], row["tenant"], row["revoked"]) == ("dash", "acme", False)
    assert sorted(row["scopes"]) == sorted(READ_SCOPES)


async def test_scopes_a_stored_row_may_not_hold_grant_nothing(engine: AsyncEngine) -> None:
    """Module doc: a row from an older release grants only its kind's known scopes."""
    tenant = await issue_token(engine, "old", "acme", [SCOPE_EVENTS_READ])
    operator = await issue_operator_token(engine, "old-scraper")
    stranger = ["admin", SCOPE_METRICS_READ, SCOPE_EVENTS_READ, SCOPE_COMMANDS_WRITE]
    await _set_scopes(engine, tenant, stranger)
    await _set_scopes(engine, operator, stranger)

    tenant_grant = await resolve_token(engine, tenant)
    operator_grant = await resolve_token(engine, operator)

    assert tenant_grant is not None
    assert operator_grant is not None
    assert tenant_grant.scopes == {SCOPE_EVENTS_READ, SCOPE_COMMANDS_WRITE}
    assert operator_grant.scopes == {SCOPE_METRICS_READ}


async def test_a_tenant_cannot_revoke_another_tenants_tokens_by_name(engine: AsyncEngine) -> None:
    """``revoke_tokens_named`` is scoped to one tenant: the same name elsewhere survives,
    and so do the operator's tokens of that name."""
    theirs = await issue_token(engine, "ci", "globex", ["read"])
    operator = await issue_operator_token(engine, "ci")

    assert await revoke_tokens_named(engine, "acme", "ci") == 0
    assert await revoke_tokens_named(engine, "globex", "other-name") == 0

    assert await resolve_token(engine, theirs) is not None
    assert await resolve_token(engine, operator) is not None


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["write"], "unknown scope 'write'; known: ['commands:write', 'connections:read',"),
        ([], "a token needs at least one scope"),
    ],
)
def test_an_unknown_or_empty_scope_list_is_refused_with_the_known_ones(
    scopes: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match="scope") as refused:
        expand_scopes(scopes)

    assert str(refused.value).startswith(message)


async def test_a_tenant_token_may_carry_every_tenant_scope_at_once(engine: AsyncEngine) -> None:
    token = await issue_token(engine, "console", "acme", sorted(TENANT_SCOPES))

    grant = await resolve_token(engine, token)

    assert grant is not None
    assert grant.scopes == TENANT_SCOPES


async def test_a_tenant_token_with_the_metrics_scope_names_it_in_the_refusal(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(ValueError, match="cannot carry") as refused:
        await issue_token(engine, "t", "acme", ["read", SCOPE_METRICS_READ])

    assert str(refused.value) == (
        "a tenant token cannot carry ['metrics:read']: issue an operator token for /metrics"
    )


async def _set_scopes(engine: AsyncEngine, token: str, scopes: list[str]) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            api_tokens.update()
            .where(api_tokens.c.token_hash == hash_token(token))
            .values(scopes=scopes)
        )


async def _issued_at(engine: AsyncEngine, name: str, tenant: str, at: datetime) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            api_tokens.update()
            .where(api_tokens.c.name == name, api_tokens.c.tenant == tenant)
            .values(created_at=at)
        )


async def test_listing_gives_each_tenants_live_tokens_oldest_first_never_a_token(
    engine: AsyncEngine,
) -> None:
    """``connmgr token ls``: name, owner, scopes (sorted), creation; revoked ones only
    when asked; never the token or its hash."""
    issued = {
        ("zeta", "acme"): await issue_token(engine, "zeta", "acme", [SCOPE_EVENTS_READ, "read"]),
        ("alpha", "acme"): await issue_token(engine, "alpha", "acme", [SCOPE_COMMANDS_WRITE]),
        ("gone", "acme"): await issue_token(engine, "gone", "acme", ["read"]),
        ("beta", "other"): await issue_token(engine, "beta", "other", ["read"]),
        ("ops", OPERATOR_TENANT): await issue_operator_token(engine, "ops"),
    }
    for day, (name, tenant) in enumerate(issued, start=1):
        await _issued_at(engine, name, tenant, datetime(2026, 12, day, tzinfo=UTC))
    await revoke_token(engine, issued[("gone", "acme")])

    acme = await list_tokens(engine, tenant="acme")
    everyone = await list_tokens(engine, include_revoked=True)

    assert [(r.name, r.tenant, r.scopes, r.revoked) for r in acme] == [
        ("zeta", "acme", tuple(sorted(expand_scopes([SCOPE_EVENTS_READ, "read"]))), False),
        ("alpha", "acme", (SCOPE_COMMANDS_WRITE,), False),
    ]
    assert [r.created_at.replace(tzinfo=UTC).day for r in acme] == [1, 2]
    assert [(r.name, r.revoked) for r in everyone] == [
        ("zeta", False), ("alpha", False), ("gone", True), ("beta", False), ("ops", False)
    ]  # fmt: skip
    assert [r.name for r in await list_tokens(engine, tenant=OPERATOR_TENANT)] == ["ops"]
    listed = repr(everyone)
    assert not any(t in listed or hash_token(t) in listed for t in issued.values())


async def test_tokens_made_in_the_same_instant_are_listed_by_tenant_then_name(
    engine: AsyncEngine,
) -> None:
    for name, tenant in (("b", "two"), ("a", "two"), ("c", "one")):
        await issue_token(engine, name, tenant, ["read"])
        await _issued_at(engine, name, tenant, datetime(2026, 12, 1, tzinfo=UTC))

    listed = await list_tokens(engine)

    assert [(r.tenant, r.name) for r in listed] == [("one", "c"), ("two", "a"), ("two", "b")]
