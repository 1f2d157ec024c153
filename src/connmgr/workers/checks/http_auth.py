"""Applying a connection's auth method to the request an HTTP-based check sends.

``Authorizer.apply`` adds what the method needs: a header (``api_key`` in a
header, ``bearer``, ``basic``, ``custom_headers``, and the tokens of
``oauth2`` and ``jwt``, sent as bearer), a query parameter (``api_key`` in the
query) or a signature over the final URL (``oauth1``, so it runs last).
``mtls`` works at the TLS layer: ``client_certificate`` gives the pair for the
check's TLS context. Auth headers replace configured headers of the same name.
A missing or unusable secret is a ``CheckFailed(CONFIG_ERROR)`` naming the
field, never its value; ``apply`` spends its time in the ``auth`` phase.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Final

from connmgr.schemas.connection_auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    CustomHeadersAuth,
    JwtAuth,
    MtlsAuth,
    NoAuth,
    OAuth1Auth,
    OAuth2Auth,
)
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_jwt import claims_for, encode_jwt
from connmgr.workers.checks.http_oauth1 import authorization_header
from connmgr.workers.checks.http_oauth2 import ClientSecrets, TokenCache, obtain_token
from connmgr.workers.checks.http_transport import CheckedSession, Outgoing

_HEADER_BREAKERS: Final = frozenset("\r\n\0")


class Authorizer:
    """One check's auth: what to add to its request, and what to forget after a 401."""

    def __init__(
        self, target: CheckTarget, *, tokens: TokenCache, clock: Callable[[], float]
    ) -> None:
        self._target = target
        self._tokens = tokens
        self._clock = clock
        self._cached_key: tuple[str, str] | None = None

    @property
    def adds_credentials(self) -> bool:
        """False for ``none`` and ``mtls``: nothing to add to the request itself."""
        return not isinstance(self._target.auth, NoAuth | MtlsAuth)

    def client_certificate(self) -> tuple[str, str] | None:
        """The PEM certificate and key of ``mtls``, else ``None``."""
        if not isinstance(self._target.auth, MtlsAuth):
            return None
        return self._secret("client_cert_pem"), self._secret("client_key_pem")

    async def apply(self, request: Outgoing, session: CheckedSession, ca_pem: str | None) -> None:
        """Add the method's credentials to ``request`` (oauth2 may fetch a token first)."""
        match self._target.auth:
            case ApiKeyAuth(placement="query", name=name):
                request.url = request.url.extend_query({name: self._secret("api_key")})
            case ApiKeyAuth(name=name):
                self._header(request, name, self._secret("api_key"))
            case BearerAuth():
                self._header(request, "Authorization", "Bearer " + self._secret("token"))
            case BasicAuth(username=username):
                self._header(request, "Authorization", self._basic(username))
            case CustomHeadersAuth(header_names=names):
                for name in names:
                    self._header(request, name, self._secret(name))
            case OAuth2Auth() as oauth2:
                token = await self._oauth2_token(oauth2, session, ca_pem)
                self._header(request, "Authorization", "Bearer " + token)
            case JwtAuth() as jwt:
                token = encode_jwt(
                    jwt.algorithm, self._secret("signing_key"), claims_for(jwt, self._clock())
                )
                self._header(request, "Authorization", "Bearer " + token)
            case OAuth1Auth() as oauth1:
                self._header(request, "Authorization", self._oauth1(oauth1, request))

    def rejected(self) -> None:
        """The target answered 401: a cached token is not reused."""
        if self._cached_key is not None:
            self._tokens.drop(self._cached_key)

    def _secret(self, name: str) -> str:
        value = self._target.secrets.get(name)
        if not value:
            raise CheckFailed(Outcome.CONFIG_ERROR, f"the secret field {name!r} is missing")
        return value

    def _header(self, request: Outgoing, name: str, value: str) -> None:
        if _HEADER_BREAKERS.intersection(value):
            raise CheckFailed(
                Outcome.CONFIG_ERROR, f"a secret is not usable as the value of header {name!r}"
            )
        request.headers[name] = value

    def _basic(self, username: str) -> str:
        if ":" in username:
            raise CheckFailed(Outcome.CONFIG_ERROR, "a basic auth username cannot contain ':'")
        pair = f"{username}:{self._secret('password')}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    async def _oauth2_token(
        self, auth: OAuth2Auth, session: CheckedSession, ca_pem: str | None
    ) -> str:
        secrets = ClientSecrets(
            self._secret("client_secret"), self._target.secrets.get("refresh_token") or None
        )
        key = secrets.cache_key(self._target.connection_id, auth)
        if (cached := self._tokens.get(key, self._clock())) is not None:
            self._cached_key = key
            return cached
        token, lifetime = await obtain_token(session, auth, secrets, ca_pem)
        if lifetime is not None:
            self._tokens.put(key, token, lifetime, self._clock())
            self._cached_key = key
        return token

    def _oauth1(self, auth: OAuth1Auth, request: Outgoing) -> str:
        return authorization_header(
            request.method,
            request.url,
            consumer_key=auth.consumer_key,
            consumer_secret=self._secret("consumer_secret"),
            token=auth.token,
            token_secret=self._target.secrets.get("token_secret", ""),
            timestamp=int(self._clock()),
        )
