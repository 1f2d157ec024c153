"""What the callout answers a connecting client: a user JWT with its permissions, or a refusal.

Pure functions of the server's request, the token's grant and the settings:

- the secret is the connect option ``auth_token`` (a producer) or, with user
  ``gateway``, the password (a gateway); any other user name is refused (the
  static users of ``accounts.conf`` never reach the callout);
- a token grants a NATS identity only with ``commands:write`` or ``events:read``
  (the gateway user: ``commands:write`` or ``connections:write``, the HTTP write
  scope) and only for its own tenant (operator tokens get none);
- every user JWT expires ``ttl_s`` after it is issued: the server then closes
  the connection and the client must pass the callout again, so a revoked token
  stops working within ``ttl_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connmgr.schemas.identities import (
    BROKER_ACCOUNT,
    GATEWAY_USER,
    Permissions,
    gateway_permissions,
    producer_permissions,
)
from connmgr.storage.tokens import (
    SCOPE_COMMANDS_WRITE,
    SCOPE_CONNECTIONS_WRITE,
    SCOPE_EVENTS_READ,
    TokenGrant,
)
from connmgr.workers.nats_auth.jwt import MalformedRequest, new_jti

REFUSED = "authorization refused"
"""The one error text a refused client is sent: it never says why (no token oracle)."""


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    server_id: str
    user_nkey: str
    user: str
    secret: str


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    permissions: Permissions


def connect_request(claims: dict[str, Any]) -> ConnectRequest:
    """The fields of an ``authorization_request`` the callout needs; ``MalformedRequest``."""
    body = claims.get("nats")
    if not isinstance(body, dict) or body.get("type") != "authorization_request":
        raise MalformedRequest("not an authorization request")
    server = body.get("server_id")
    options = body.get("connect_opts") or {}
    server_id = server.get("id") if isinstance(server, dict) else None
    user_nkey = body.get("user_nkey")
    if not isinstance(server_id, str) or not isinstance(user_nkey, str):
        raise MalformedRequest("no server id or user nkey")
    if not isinstance(options, dict):
        raise MalformedRequest("connect options are not an object")
    user = str(options.get("user") or "")
    secret = str((options.get("pass") if user else options.get("auth_token")) or "")
    return ConnectRequest(server_id=server_id, user_nkey=user_nkey, user=user, secret=secret)


def identity_for(request: ConnectRequest, grant: TokenGrant | None, slots: int) -> Identity | None:
    """The identity ``grant`` gives this connection, or None to refuse it."""
    if grant is None or grant.operator:
        return None
    writes = grant.allows(SCOPE_COMMANDS_WRITE)
    if request.user == GATEWAY_USER:
        if not (writes or grant.allows(SCOPE_CONNECTIONS_WRITE)):
            return None
        return Identity(f"gateway-{grant.tenant}", gateway_permissions(grant.tenant))
    reads = grant.allows(SCOPE_EVENTS_READ)
    if request.user or not (writes or reads):
        return None
    permissions = producer_permissions(
        grant.tenant, write_commands=writes, read_events=reads, slots=slots
    )
    return Identity(f"tenant-{grant.tenant}", permissions)


def user_claims(
    request: ConnectRequest, identity: Identity, issuer: str, now: int, ttl_s: int
) -> dict[str, Any]:
    """The user JWT's claims: into the connmgr account, with allow lists, expiring."""
    return {
        "jti": new_jti(),
        "iat": now,
        "exp": now + ttl_s,
        "iss": issuer,
        "sub": request.user_nkey,
        "aud": BROKER_ACCOUNT,
        "name": identity.name,
        "nats": {
            "pub": {"allow": list(identity.permissions.publish)},
            "sub": {"allow": list(identity.permissions.subscribe)},
            "subs": -1,
            "data": -1,
            "payload": -1,
            "type": "user",
            "version": 2,
        },
    }


def response_claims(
    request: ConnectRequest, issuer: str, now: int, *, user_jwt: str | None
) -> dict[str, Any]:
    """The ``authorization_response``: the signed user JWT, or the refusal."""
    body: dict[str, Any] = {"type": "authorization_response", "version": 2}
    if user_jwt is None:
        body["error"] = REFUSED
    else:
        body["jwt"] = user_jwt
    return {
        "jti": new_jti(),
        "iat": now,
        "iss": issuer,
        "sub": request.user_nkey,
        "aud": request.server_id,
        "nats": body,
    }
