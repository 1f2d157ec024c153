"""The shipped broker configuration, running: ``infra/nats/accounts.conf`` on a real
nats-server, the auth-callout service answering for it, tenants provisioned the
documented way (``issue_token`` in the token store, nothing edited in the config).

``SecuredBroker.start(store, engine)`` sets the passwords and the issuer in the
environment the server reads, creates the streams and the keys bucket as the
operator (``connmgr streams ensure``), and runs ``NatsAuthService``. Clients:

- ``pool(name)``: a pool's connection exactly as ``connect_nats`` makes it;
- ``operator()``: the operator's connection (``connect_operator``);
- ``tenant(token)``, ``gateway(token)``: tenant identities through the callout.

Each client records the server's asynchronous errors (``Watched.errors``);
``refused(watched, subject)`` waits for the permission violation naming it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nats
from nats.aio.client import Client
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.nats_server import NatsServer
from connmgr.runtime.pools import connect_nats, connect_operator
from connmgr.schemas.bus.inboxes import gateway_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.identities import GATEWAY_USER
from connmgr.schemas.settings import Settings
from connmgr.workers.durables import ensure_consumers
from connmgr.workers.nats_auth.issuer import issuer_from_seed, new_issuer_seed, public_key
from connmgr.workers.nats_auth.service import NatsAuthService
from connmgr.workers.streams import ensure_streams, keys_bucket
from support.databases import migrated_engine, sqlite_url_in
from support.waiting import wait_for

INFRA: Final = Path(__file__).parents[2] / "infra" / "nats"
STATIC_USERS: Final = ("encryptor", "tester", "prober", "relay", "notifier", "operator")
PASSWORDS: Final = {
    **{f"CONNMGR_NATS_{user.upper()}_PASSWORD": f"pw-{user}" for user in STATIC_USERS},
    "CONNMGR_NATS_AUTH_PASSWORD": "pw-nats-auth",
}


@contextmanager
def shipped_environment(issuer: str) -> Iterator[dict[str, str]]:
    """The variables ``accounts.conf`` reads, set for the server about to start."""
    values = {**PASSWORDS, "CONNMGR_NATS_AUTH_ISSUER": issuer}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Watched:
    """A client and the asynchronous errors the server sent it."""

    nc: Client
    errors: list[str] = field(default_factory=list)


async def refused(watched: Watched, subject: str) -> None:
    """Wait until the server reported a permission violation for exactly ``subject``.

    The server quotes the subject whole, so a violation for a longer subject that
    starts with this one (``...CREATE.<stream>.<slot>.<filter>`` for
    ``...CREATE.<stream>.<slot>``) does not count.
    """
    wanted = f'"{subject.lower()}"'
    await wait_for(
        lambda: any("permissions violation" in e and wanted in e for e in watched.errors),
        message=f"a permissions violation for {subject}",
    )


@dataclass
class SecuredBroker:
    server: NatsServer
    engine: AsyncEngine
    settings: Settings
    exits: AsyncExitStack

    @classmethod
    async def start(
        cls, store: Path, engine: AsyncEngine, exits: AsyncExitStack, *, ttl_s: int = 300
    ) -> SecuredBroker:
        seed = new_issuer_seed()
        issuer = issuer_from_seed(seed)
        with shipped_environment(public_key(issuer)):
            server = NatsServer(store, extra_config=(INFRA / "accounts.conf").read_text())
            await exits.enter_async_context(server)
        settings = Settings(
            nats_url=server.url,
            nats_operator_password=PASSWORDS["CONNMGR_NATS_OPERATOR_PASSWORD"],
            nats_credential_ttl_s=ttl_s,
            nats_event_consumer_slots=2,
        )
        broker = cls(server, engine, settings, exits)
        operator = await broker.operator()
        await ensure_streams(operator.nc.jetstream())  # connmgr streams ensure
        await ensure_consumers(operator.nc.jetstream())
        await keys_bucket(operator.nc.jetstream())
        callout_nc = await broker._track(
            user="nats-auth", password=PASSWORDS["CONNMGR_NATS_AUTH_PASSWORD"]
        )
        service = NatsAuthService(callout_nc.nc, engine, issuer, ttl_s=ttl_s, slots=2)
        await service.start()
        return broker

    async def pool(self, name: str) -> Watched:
        password = PASSWORDS[f"CONNMGR_NATS_{name.upper()}_PASSWORD"]
        settings = self.settings.model_copy(update={"nats_password": SecretStr(password)})
        watched = Watched(await connect_nats(settings, name))
        return await self._watch(watched)

    async def operator(self) -> Watched:
        return await self._watch(Watched(await connect_operator(self.settings)))

    async def tenant(self, tenant: str, token: str) -> Watched:
        prefix = tenant_inbox_prefix(tenant).encode()
        return await self._track(token=token, inbox_prefix=prefix, allow_reconnect=False)

    async def gateway(self, tenant: str, token: str) -> Watched:
        prefix = gateway_inbox_prefix(tenant).encode()
        return await self._track(
            user=GATEWAY_USER, password=token, inbox_prefix=prefix, allow_reconnect=False
        )

    async def _track(self, **options: Any) -> Watched:
        errors: list[str] = []

        async def record(error: Exception) -> None:
            errors.append(str(error).lower())

        nc = await nats.connect(self.server.url, error_cb=record, **options)
        self.exits.push_async_callback(nc.close)
        return Watched(nc, errors)

    async def _watch(self, watched: Watched) -> Watched:
        async def record(error: Exception) -> None:
            watched.errors.append(str(error).lower())

        # connect_nats takes no error callback: hear the server's errors from now on
        watched.nc._error_cb = record
        self.exits.push_async_callback(watched.nc.close)
        return watched


@asynccontextmanager
async def running_broker(folder: Path, *, ttl_s: int = 300) -> AsyncIterator[SecuredBroker]:
    """A ``SecuredBroker`` on a fresh SQLite token store in ``folder``; all closed after."""
    async with (
        migrated_engine(sqlite_url_in(folder)) as engine,
        AsyncExitStack() as exits,
    ):
        yield await SecuredBroker.start(folder / "nats", engine, exits, ttl_s=ttl_s)
