"""The composition root of each process: real adapters built from settings.

The key ring, the engine, the NATS connections and the API's server of a process
are built here; each pool's start-up over them is ``pool_startup``. The loop
``start_pool`` returns runs until ``stop`` is set (``run_until_stopped``), then
gets ``shutdown_grace_s`` to finish its in-flight work. Tests and the dev stack
pass their own NATS connection and engine instead of letting these build them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Coroutine
from typing import Any, Final

import nats
import structlog
from aiohttp import web
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.api.serving import ProblemAppRunner
from connmgr.runtime.failures import ServiceUnavailable, describe
from connmgr.runtime.gateway_mount import api_app
from connmgr.runtime.keyfiles import load_callout_issuer, load_keyring
from connmgr.runtime.nats_reconnect import ReconnectLog, quiet_error
from connmgr.runtime.pool_names import NATS_AUTH as NATS_AUTH
from connmgr.runtime.pool_names import POOLS as POOLS
from connmgr.runtime.pool_names import WORKERS as WORKERS
from connmgr.runtime.redaction import mask_text
from connmgr.schemas.bus.inboxes import OPERATOR_INBOX_PREFIX, pool_inbox_prefix
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine
from connmgr.workers.keyring import Keyring

log = structlog.get_logger("connmgr.runtime")

PoolLoop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


KEYED_POOLS = frozenset({"encryptor", "tester", "prober", "notifier"})
PROBER_DB_CONNECTIONS: Final = 6


def preflight_keyring(pools: tuple[str, ...], settings: Settings) -> Keyring | None:
    """Load the key ring (and the callout's issuer seed) before connecting anywhere:
    keys fail closed, and fast."""
    if NATS_AUTH in pools:
        load_callout_issuer(settings)
    return load_keyring(settings) if KEYED_POOLS.intersection(pools) else None


def pool_engine(settings: Settings, pool: str) -> AsyncEngine:
    """The engine of a pool's own process.

    The prober holds a server connection per batch, never per check: its target
    reads (one statement at a time), its writer's flush, the schedule keeper and
    the roll-up. A fixed pool of ``PROBER_DB_CONNECTIONS`` covers them; overflow
    would open a backend per checkout, and a pre-ping would add a round trip to
    each batch (a connection the server dropped fails one batch instead, whose
    messages are nak'd and redelivered).
    """
    if pool == "prober":
        return create_engine(
            settings.database_url,
            pool_size=PROBER_DB_CONNECTIONS,
            max_overflow=0,
            pre_ping=False,
        )
    return create_engine(settings.database_url)


async def connect_nats(settings: Settings, name: str) -> NatsClient:
    """Connect as the process's own user (``name``, the pool) with its own inbox prefix.

    With ``nats_password`` set, the user is ``nats_user`` or else ``name`` (the users
    of ``infra/nats/accounts.conf`` are named after the pools); without it, no
    credentials (the dev stack's broker on loopback).
    """
    password = settings.nats_password
    client, reconnects = NatsClient(), ReconnectLog(name)
    reconnects.attach(client)
    await client.connect(
        settings.nats_url,
        name=f"connmgr-{name}",
        max_reconnect_attempts=-1,
        inbox_prefix=pool_inbox_prefix(name).encode(),
        user=(settings.nats_user or name) if password else None,
        password=password.get_secret_value() if password else None,
        **reconnects.callbacks(),
        tls=broker_tls(settings),
    )
    return client


async def connect_operator(settings: Settings) -> NatsClient:
    """The operator's connection (``streams ensure``, ``dlq``): its user, its inbox.
    A broker that does not answer is ``ServiceUnavailable`` (one line, no password)."""
    password = settings.nats_operator_password
    try:
        return await nats.connect(
            settings.nats_url,
            name="connmgr-operator",
            inbox_prefix=OPERATOR_INBOX_PREFIX.encode(),
            allow_reconnect=False,
            max_reconnect_attempts=1,  # each server twice, then NoServersError (not 60 times)
            error_cb=quiet_error,
            user=settings.nats_operator_user if password else None,
            password=password.get_secret_value() if password else None,
            tls=broker_tls(settings),
        )
    except Exception as error:
        where = mask_text(settings.nats_url)
        raise ServiceUnavailable(f"NATS at {where}: {describe(error)}") from None


def broker_tls(settings: Settings) -> ssl.SSLContext | None:
    """Trust only ``nats_tls_ca_file`` for the broker when it is set (infra/nats/tls.conf);
    otherwise nats-py's default, the system's trust store, for ``tls://`` URLs."""
    if settings.nats_tls_ca_file is None:
        return None
    return ssl.create_default_context(cafile=settings.nats_tls_ca_file)


async def close_nats(nc: NatsClient) -> None:
    """Drain when connected; otherwise just close, so an absent broker at shutdown
    never hides the real exit status behind a reconnecting error: closing a client
    that is still reconnecting can fail on its dead socket, which is logged in one
    line and is no failure of the process."""
    try:
        if nc.is_connected:
            await nc.drain()
            return
    except Exception as error:
        log.warning("nats_drain_failed", error=describe(error))
    try:
        await nc.close()
    except Exception as error:
        log.warning("nats_close_failed", error=describe(error))


async def run_until_stopped(loop: PoolLoop, stop: asyncio.Event, grace_s: float) -> None:
    """Run ``loop``; once ``stop`` is set, let it finish for ``grace_s``, then cancel it."""
    task: asyncio.Task[None] = asyncio.create_task(loop(stop))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        if not done:
            log.warning("shutdown_grace_exceeded", grace_s=grace_s)
            task.cancel()
    stopping.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


async def serve_api(settings: Settings, engine: AsyncEngine | None = None) -> web.AppRunner:
    runner = ProblemAppRunner(api_app(settings, engine=engine), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api_host, settings.api_port)
    await site.start()
    return runner


def bound_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"
