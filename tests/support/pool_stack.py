"""Every pool in process over one NATS client and one database, started and stopped together.

``in_process_pools`` builds the encryptor, relay, prober and notifier (and the
tester when asked) as the end-to-end tests run them: loopback allowed, a quick
delivery policy of one attempt; ``running`` starts each, runs them until the
``with`` block ends, then stops them and waits for their loops to return.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.workers.checks.registry import build_checks
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.notifier import DeliveryPolicy, NotifierPool
from connmgr.workers.prober.service import ProberPool
from connmgr.workers.relay.service import Relay
from connmgr.workers.tester.service import TesterPool


class Pool(Protocol):
    start: Callable[[], Awaitable[None]]
    run: Callable[[asyncio.Event], Awaitable[None]]


def in_process_pools(
    nc: Client, engine: AsyncEngine, keyring: Keyring, *, tester: bool = False
) -> list[Pool]:
    egress = Egress(EgressPolicy(allow_loopback=True))
    runner = CheckRunner(build_checks(egress), 16, 4)
    quick = DeliveryPolicy(attempts_per_delivery=1, max_attempts=1, backoff_s=0.01, timeout_s=5)
    pools: list[Pool] = [
        EncryptorPool(nc, engine, EncryptorPorts(keyring, False), batch_size=32),
        Relay(nc.jetstream(), engine, batch_size=100),
        ProberPool(nc, engine, keyring, runner, max_in_flight=8),
        NotifierPool(nc, engine, keyring, egress, policy=quick, max_in_flight=8),
    ]
    if tester:
        pools.append(
            TesterPool(nc, engine, keyring, runner, allow_plaintext=False, max_in_flight=8)
        )
    return pools


@contextlib.asynccontextmanager
async def running(pools: list[Pool]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = []
    for pool in pools:
        await pool.start()
        tasks.append(asyncio.create_task(pool.run(stop)))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
