"""``connmgr worker nats-auth``: answers nats-server's auth-callout requests.

Contract:

- subscribes to ``$SYS.REQ.USER.AUTH`` as the static user ``nats-auth`` (listed in
  ``auth_users``, so it never passes through itself);
- for each request: reads the connect options, looks the token up in the token
  store (hashed; revoked and unknown tokens are refused), and answers with a user
  JWT for the token's tenant (``decisions``), or a refusal that never says why;
- a request it cannot read is dropped with a warning (the server then refuses the
  client when its callout times out); a store it cannot reach refuses the client,
  which retries; no request ever stops the service;
- one log line per decision: identity, tenant, outcome. Never the token, never
  the JWTs, never the seed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.identities import AUTH_REQUEST_SUBJECT
from connmgr.storage.tokens import TokenGrant, resolve_token
from connmgr.workers.nats_auth import jwt
from connmgr.workers.nats_auth.decisions import (
    connect_request,
    identity_for,
    response_claims,
    user_claims,
)
from connmgr.workers.nats_auth.issuer import public_key

log = structlog.get_logger("connmgr.nats_auth")


class NatsAuthService:
    """The auth callout (see module doc)."""

    def __init__(
        self,
        nc: NatsClient,
        engine: AsyncEngine,
        issuer: jwt.Signer,
        *,
        ttl_s: int,
        slots: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._nc = nc
        self._engine = engine
        self._issuer = issuer
        self._issuer_public = public_key(issuer)
        self._ttl_s = ttl_s
        self._slots = slots
        self._clock = clock
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(AUTH_REQUEST_SUBJECT, cb=self._on_request)
        await self._nc.flush()

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()
        if self._subscription is not None:
            await self._subscription.unsubscribe()

    async def answer(self, request_jwt: bytes) -> bytes | None:
        """The signed response to one request; None when the request cannot be read."""
        try:
            request = connect_request(jwt.request_claims(request_jwt))
        except jwt.MalformedRequest as error:
            log.warning("auth_request_unreadable", problem=str(error))
            return None
        grant = await self._grant(request.secret)
        identity = identity_for(request, grant, self._slots)
        now = int(self._clock())
        user_jwt = None
        if identity is not None:
            claims = user_claims(request, identity, self._issuer_public, now, self._ttl_s)
            user_jwt = jwt.encode(claims, self._issuer)
        log.info(
            "nats_auth",
            outcome="accepted" if identity else "refused",
            identity=identity.name if identity else None,
            tenant=grant.tenant if grant else None,
        )
        response = response_claims(request, self._issuer_public, now, user_jwt=user_jwt)
        return jwt.encode(response, self._issuer).encode()

    async def _grant(self, secret: str) -> TokenGrant | None:
        if not secret:
            return None
        try:
            return await resolve_token(self._engine, secret)
        except Exception as error:  # the store is down: refuse; the client retries
            log.warning("auth_store_unavailable", error=type(error).__name__)
            return None

    async def _on_request(self, message: Msg) -> None:
        try:
            response = await self.answer(message.data)
            if response is not None and message.reply:
                await message.respond(response)
        except Exception:  # one request never stops the service
            log.exception("auth_request_failed")
