"""OAuth 2.0 access tokens for the checks: client credentials, refresh token, a cache.

``obtain_token`` POSTs to the configured ``token_url`` — resolved and checked
by the egress policy like any target, redirects not followed — authenticating
the client with HTTP Basic (RFC 6749 2.3.1: id and secret form-encoded). With a
stored ``refresh_token`` it tries ``grant_type=refresh_token`` first and falls
back to ``client_credentials`` (with ``scope`` and ``audience``) when the
endpoint rejects it. Answers are read up to 64 KiB. A token whose answer names
``expires_in`` is cached in this process, per connection and per credentials,
until shortly before it expires; a rotated refresh token the endpoint returns
is not kept (secrets are write-only: the stored one stays in use).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote_plus

from yarl import URL

from connmgr.schemas.connection_auth import OAuth2Auth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_transport import CheckedSession, read_capped
from connmgr.workers.checks.net import tls_context

ANSWER_LIMIT: Final = 64 * 1024
_TOKEN_LIMIT: Final = 8192
_REFUSING_ERRORS: Final = frozenset({"invalid_scope", "unauthorized_client", "access_denied"})


class TokenRejected(CheckFailed):
    """The token endpoint refused the credentials or the grant (400/401)."""


@dataclass(frozen=True, slots=True)
class _Cached:
    token: str
    usable_until: float


class TokenCache:
    """Access tokens by (connection id, credentials digest), in memory only, bounded."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: dict[tuple[str, str], _Cached] = {}
        self._max_entries = max_entries

    def get(self, key: tuple[str, str], now: float) -> str | None:
        entry = self._entries.get(key)
        if entry is None or now >= entry.usable_until:
            self._entries.pop(key, None)
            return None
        return entry.token

    def put(self, key: tuple[str, str], token: str, expires_in: float, now: float) -> None:
        """Keep ``token`` until a margin (a quarter of its life, at most 30 s) before expiry."""
        self._entries.pop(key, None)
        self._entries[key] = _Cached(token, now + expires_in - min(30.0, expires_in / 4))
        while len(self._entries) > self._max_entries:
            self._entries.pop(next(iter(self._entries)))

    def drop(self, key: tuple[str, str]) -> None:
        self._entries.pop(key, None)


@dataclass(frozen=True, slots=True, repr=False)
class ClientSecrets:
    client_secret: str
    refresh_token: str | None

    def cache_key(self, connection_id: str, auth: OAuth2Auth) -> tuple[str, str]:
        """Tokens are reused only for the same endpoint, client, scopes and secrets.

        The parts are a JSON array, so no two sets of secrets read alike (a sealed
        secret may hold any character, NUL included)."""
        material = json.dumps([auth.model_dump_json(), self.client_secret, self.refresh_token])
        return connection_id, hashlib.sha256(material.encode()).hexdigest()


async def obtain_token(
    session: CheckedSession, auth: OAuth2Auth, secrets: ClientSecrets, ca_pem: str | None
) -> tuple[str, float | None]:
    """A fresh access token and its lifetime in seconds (``None`` when not stated)."""
    if secrets.refresh_token:
        form = {"grant_type": "refresh_token", "refresh_token": secrets.refresh_token}
        try:
            return await _grant(session, auth, secrets, form, ca_pem)
        except TokenRejected:
            pass  # an expired or revoked refresh token: the client credentials still work
    form = {"grant_type": "client_credentials"}
    if auth.scopes:
        form["scope"] = " ".join(auth.scopes)
    if auth.audience:
        form["audience"] = auth.audience
    return await _grant(session, auth, secrets, form, ca_pem)


async def _grant(
    session: CheckedSession,
    auth: OAuth2Auth,
    secrets: ClientSecrets,
    form: dict[str, str],
    ca_pem: str | None,
) -> tuple[str, float | None]:
    url = URL(auth.token_url)
    await session.check(url)
    client = f"{quote_plus(auth.client_id)}:{quote_plus(secrets.client_secret)}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(client.encode()).decode(),
        "Accept": "application/json",
    }
    context = tls_context(server_hostname=url.raw_host, ca_pem=ca_pem)
    async with session.client.post(
        url, data=form, headers=headers, ssl=context, allow_redirects=False
    ) as response:
        answer = _json_object(await read_capped(response, ANSWER_LIMIT))
        if not 200 <= response.status < 300:
            raise _rejection(response.status, answer.get("error"))
    return _token_of(answer)


def _json_object(body: bytes | None) -> dict[str, Any]:
    try:
        document = json.loads(body) if body is not None else None
    except ValueError:
        document = None
    return document if isinstance(document, dict) else {}


def _rejection(status: int, error: object) -> CheckFailed:
    if status == 403 or error in _REFUSING_ERRORS:
        return CheckFailed(
            Outcome.PERMISSION_DENIED, "the token endpoint refused the requested grant or scopes"
        )
    if status in (400, 401):
        return TokenRejected(Outcome.AUTH_FAILED, "the token endpoint rejected the credentials")
    return CheckFailed(Outcome.PROTOCOL_ERROR, f"the token endpoint answered with status {status}")


def _token_of(answer: dict[str, Any]) -> tuple[str, float | None]:
    token, kind, lifetime = (answer.get(k) for k in ("access_token", "token_type", "expires_in"))
    usable = isinstance(token, str) and 0 < len(token) <= _TOKEN_LIMIT and token.isprintable()
    if not usable or not isinstance(token, str):
        raise CheckFailed(
            Outcome.PROTOCOL_ERROR, "the token endpoint's answer holds no usable access token"
        )
    if kind is not None and str(kind).lower() != "bearer":
        raise CheckFailed(Outcome.PROTOCOL_ERROR, "the token endpoint issued a non-bearer token")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        return token, None
    return token, float(lifetime)
