"""API tokens: bound to one tenant and a set of scopes, stored only as a SHA-256 hash.

Two kinds of token:

- a **tenant token** (``issue_token``) carries tenant scopes only:
  ``connections:read``, ``events:read`` (the read API, and reading events over
  NATS through the auth callout) and ``commands:write`` (publishing commands over
  NATS through the auth callout); never ``metrics:read``;
- an **operator token** (``issue_operator_token``) has no tenant (stored under
  ``OPERATOR_TENANT``, which no tenant id can equal) and only ``metrics:read``:
  it reads ``/metrics`` and nothing of any tenant.

A grant read back keeps only the scopes its kind may hold, so a row written by
an older release (a tenant token with ``metrics:read``) grants no more.

A token is ``cm_`` + 32 random bytes (urlsafe base64). Its plaintext is returned once,
by ``issue_token``, and never stored: the table holds its SHA-256, so a database
reader cannot use a token, and a lookup compares hashes in the index, never the
secret itself character by character (no timing oracle on the token).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.subjects import is_valid_tenant
from connmgr.storage.database import write_transaction
from connmgr.storage.tables import api_tokens

SCOPE_CONNECTIONS_READ: Final = "connections:read"
SCOPE_EVENTS_READ: Final = "events:read"
SCOPE_COMMANDS_WRITE: Final = "commands:write"
"""Tenant scope: publish commands over NATS (an identity from the auth callout)."""
SCOPE_CONNECTIONS_WRITE: Final = "connections:write"
"""Tenant scope: the HTTP command gateway's write routes (and its broker identity)."""
SCOPE_METRICS_READ: Final = "metrics:read"
"""Operator scope: /metrics shows every tenant's connection gauges; never a tenant's."""
READ_SCOPES: Final = frozenset({SCOPE_CONNECTIONS_READ, SCOPE_EVENTS_READ})
TENANT_SCOPES: Final = READ_SCOPES | {SCOPE_COMMANDS_WRITE, SCOPE_CONNECTIONS_WRITE}
OPERATOR_SCOPES: Final = frozenset({SCOPE_METRICS_READ})
ALL_SCOPES: Final = TENANT_SCOPES | OPERATOR_SCOPES
SCOPE_SHORTHANDS: Final = {"read": READ_SCOPES}
OPERATOR_TENANT: Final = "@operator"
"""The tenant column of operator tokens: outside the tenant pattern, so never a tenant."""

TOKEN_PREFIX: Final = "cm_"
_MAX_TOKEN_LENGTH: Final = 128


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a valid token allows: one tenant, some scopes."""

    name: str
    tenant: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def operator(self) -> bool:
        """An operator token: no tenant, nothing of any tenant's."""
        return self.tenant == OPERATOR_TENANT


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Scopes with shorthands (``read``) expanded; raises ``ValueError`` on an unknown one."""
    result: set[str] = set()
    for scope in scopes:
        if scope in SCOPE_SHORTHANDS:
            result |= SCOPE_SHORTHANDS[scope]
        elif scope in ALL_SCOPES:
            result.add(scope)
        else:
            raise ValueError(f"unknown scope {scope!r}; known: {sorted(ALL_SCOPES)} or 'read'")
    if not result:
        raise ValueError("a token needs at least one scope")
    return frozenset(result)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(engine: AsyncEngine, name: str, tenant: str, scopes: Iterable[str]) -> str:
    """Store a new token for ``tenant`` and return its plaintext (the only time it exists)."""
    if not is_valid_tenant(tenant):
        raise ValueError("tenant must match [a-z0-9_-]{1,64}")
    granted = expand_scopes(scopes)
    if not granted <= TENANT_SCOPES:
        raise ValueError(
            f"a tenant token cannot carry {sorted(granted - TENANT_SCOPES)}: "
            "issue an operator token for /metrics"
        )
    return await _store_token(engine, name, tenant, granted)


async def issue_operator_token(engine: AsyncEngine, name: str) -> str:
    """Store a new operator token (``metrics:read`` only, no tenant); return its plaintext."""
    return await _store_token(engine, name, OPERATOR_TENANT, OPERATOR_SCOPES)


async def _store_token(engine: AsyncEngine, name: str, tenant: str, granted: frozenset[str]) -> str:
    if not 1 <= len(name) <= 200:
        raise ValueError("name must be 1 to 200 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {
        "token_hash": hash_token(token),
        "name": name,
        "tenant": tenant,
        "scopes": sorted(granted),
        "created_at": datetime.now(UTC),
        "revoked": False,
    }
    async with write_transaction(engine) as connection:
        await connection.execute(api_tokens.insert().values(**row))
    return token


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token as an operator lists it: never its hash, never the token."""

    name: str
    tenant: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked: bool


async def list_tokens(
    engine: AsyncEngine, *, tenant: str | None = None, include_revoked: bool = False
) -> list[TokenRecord]:
    """Stored tokens, oldest first: ``tenant``'s only (``OPERATOR_TENANT``: the
    operator's), live ones unless ``include_revoked``."""
    t = api_tokens.c
    query = select(t.name, t.tenant, t.scopes, t.created_at, t.revoked).order_by(
        t.created_at, t.tenant, t.name
    )
    if tenant is not None:
        query = query.where(t.tenant == tenant)
    if not include_revoked:
        query = query.where(t.revoked.is_(False))
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [
        TokenRecord(r.name, r.tenant, tuple(sorted(map(str, r.scopes))), r.created_at, r.revoked)
        for r in rows
    ]


def is_well_formed(token: str) -> bool:
    """Whether ``token`` could be one of ours (prefix, length): else no lookup is needed."""
    return token.startswith(TOKEN_PREFIX) and len(token) <= _MAX_TOKEN_LENGTH


_LIVE_TOKEN: Final = select(api_tokens.c.name, api_tokens.c.tenant, api_tokens.c.scopes).where(
    api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked.is_(False)
)
"""Built once: SQLAlchemy then reuses its compiled form without rebuilding a cache key."""


async def resolve_token(engine: AsyncEngine, token: str) -> TokenGrant | None:
    """The grant of a live token; None when it is malformed, unknown or revoked."""
    if not is_well_formed(token):
        return None
    return await resolve_token_hash(engine, hash_token(token))


async def resolve_token_hash(engine: AsyncEngine, token_hash: str) -> TokenGrant | None:
    """The grant of the live token with this SHA-256 (``hash_token``); None if none.

    One statement: on an autocommit engine (``database.autocommit_reads``), one round trip.
    """
    async with engine.connect() as connection:
        row = (await connection.execute(_LIVE_TOKEN, {"token_hash": token_hash})).first()
    if row is None:
        return None
    # Scopes stored by an older release may be unknown now, or not of this kind of
    # token (a tenant token with metrics:read): they grant nothing.
    allowed = OPERATOR_SCOPES if row.tenant == OPERATOR_TENANT else TENANT_SCOPES
    scopes = frozenset(str(scope) for scope in row.scopes) & allowed
    return TokenGrant(name=row.name, tenant=row.tenant, scopes=scopes)


async def revoke_token(engine: AsyncEngine, token: str) -> bool:
    """Revoke one token by its plaintext; True when a live token was revoked."""
    t = api_tokens.c
    statement = (
        update(api_tokens)
        .where(t.token_hash == hash_token(token), t.revoked.is_(False))
        .values(revoked=True)
    )
    async with write_transaction(engine) as connection:
        result = await connection.execute(statement)
    return result.rowcount > 0


async def revoke_tokens_named(engine: AsyncEngine, tenant: str, name: str) -> int:
    """Revoke every live token of ``tenant`` called ``name`` (for a lost plaintext)."""
    t = api_tokens.c
    statement = (
        update(api_tokens)
        .where(t.tenant == tenant, t.name == name, t.revoked.is_(False))
        .values(revoked=True)
    )
    async with write_transaction(engine) as connection:
        result = await connection.execute(statement)
    return result.rowcount
