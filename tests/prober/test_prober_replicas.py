"""Three prober replicas share the broker's firings: one check per interval per
connection, and losing a replica loses nothing beyond the checks it had in hand."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.kinds import Kind
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.tables import samples
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.checks.tcp import TcpCheck
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober.service import ProberPool
from connmgr.workers.relay.service import Relay
from support.commands import command, encode, subject_of
from support.waiting import wait_for

INTERVAL_S = 10
CONNECTIONS = 20


@dataclass
class Replica:
    task: asyncio.Task[None]
    stop: asyncio.Event


@dataclass
class Cluster:
    nc: Client
    engine: AsyncEngine
    keyring: Keyring
    probers: list[Replica] = field(default_factory=list)
    others: list[Replica] = field(default_factory=list)

    async def start_prober(self) -> Replica:
        runner = CheckRunner({Kind.TCP: TcpCheck(Egress(EgressPolicy(allow_loopback=True)))}, 32, 8)
        pool = ProberPool(self.nc, self.engine, self.keyring, runner, max_in_flight=64)
        return await self._start(pool, self.probers)

    async def _start(self, pool: Any, into: list[Replica]) -> Replica:
        await pool.start()
        stop = asyncio.Event()
        replica = Replica(asyncio.create_task(pool.run(stop)), stop)
        into.append(replica)
        return replica

    async def sample_times(self) -> dict[str, list[datetime]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(samples.c.connection_id, samples.c.checked_at).order_by(samples.c.checked_at)
            )
            times: dict[str, list[datetime]] = {}
            for connection_id, checked_at in rows:
                times.setdefault(connection_id, []).append(checked_at)
            return times


@pytest.fixture
async def cluster(nats_server_factory, fresh_pg_url) -> AsyncIterator[Cluster]:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    nc = await nats.connect(server.url)
    cluster = Cluster(nc, engine, Keyring.generate())
    await cluster._start(
        EncryptorPool(nc, engine, EncryptorPorts(cluster.keyring, True), 64), cluster.others
    )
    await cluster._start(Relay(nc.jetstream(), engine, 200), cluster.others)
    yield cluster
    for replica in cluster.probers + cluster.others:
        replica.stop.set()
    await asyncio.wait_for(
        asyncio.gather(*(r.task for r in cluster.probers + cluster.others), return_exceptions=True),
        30,
    )
    await nc.drain()
    await engine.dispose()


async def create_checked_connections(cluster: Cluster, port: int) -> list[str]:
    ids = []
    for n in range(CONNECTIONS):
        connection_id = str(uuid.uuid4())
        payload = {
            "name": f"svc-{n}",
            "kind": "tcp",
            "config": {"host": "127.0.0.1", "port": port},
            "health_check": {"enabled": True, "interval_s": INTERVAL_S, "timeout_s": 2},
        }
        document = command("create", connection_id, payload)
        headers = {MSG_ID_HEADER: document["command_id"]}
        await cluster.nc.jetstream().publish(
            subject_of(document), encode(document), headers=headers
        )
        ids.append(connection_id)
    return ids


async def checked_at_least(cluster: Cluster, ids: list[str], rounds: int) -> bool:
    times = await cluster.sample_times()
    return all(len(times.get(connection_id, [])) >= rounds for connection_id in ids)


def doubled(times: dict[str, list[datetime]]) -> int:
    """Samples closer than half an interval to the previous one of the same connection."""
    count = 0
    for checked in times.values():
        for earlier, later in itertools.pairwise(checked):
            if (later - earlier).total_seconds() < INTERVAL_S / 2:
                count += 1
    return count


async def test_three_replicas_check_each_connection_once_per_interval(cluster: Cluster) -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        for _ in range(3):
            await cluster.start_prober()
        ids = await create_checked_connections(cluster, listener.sockets[0].getsockname()[1])
        await wait_for(lambda: checked_at_least(cluster, ids, 2), timeout=4 * INTERVAL_S)
        times = await cluster.sample_times()
    finally:
        listener.close()
    assert doubled(times) == 0
    assert set(ids) <= set(times)


async def test_losing_a_replica_loses_only_its_checks_in_hand(cluster: Cluster) -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        replicas = [await cluster.start_prober() for _ in range(3)]
        ids = await create_checked_connections(cluster, listener.sockets[0].getsockname()[1])
        await wait_for(lambda: checked_at_least(cluster, ids, 1), timeout=3 * INTERVAL_S)
        replicas[0].task.cancel()  # gone mid-run, like a killed process: no drain, no acks
        before = Counter({k: len(v) for k, v in (await cluster.sample_times()).items()})
        await wait_for(
            lambda: checked_at_least(cluster, ids, max(before.values()) + 1),
            timeout=4 * INTERVAL_S,
            message="every connection is checked again by the surviving replicas",
        )
        times = await cluster.sample_times()
    finally:
        listener.close()
    assert doubled(times) == 0
