"""A private nats-server for the producer tests, and the workers' side faked.

The producer publishes to the bus contract's fixed names (stream ``CONNMGR_CMD``,
bucket ``connmgr_keys``), which the shared session server cannot give each test
uniquely; these tests run on their own server (one for the package) and rebuild
the stream and bucket for every test.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js.api import RetentionPolicy, StreamConfig
from producer_fakes import ACTOR, TENANT, FakeEncryptor, FakeTester, SealKeys

from connmgr.producers import Producer
from connmgr.runtime.nats_server import NatsServer
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.schemas.bus.streams import COMMAND_STREAM, DUPLICATE_WINDOW_S, KEYS_BUCKET
from connmgr.schemas.bus.subjects import command_subjects_all
from support import require_services
from support.waiting import wait_for

STORE_NOT_CREATED: Final = 10049
"""nats-server's error code for a stream whose store it could not create."""


@pytest.fixture(scope="package")
async def producers_nats_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    await require_services("nats")
    async with NatsServer(tmp_path_factory.mktemp("nats-producers")) as server:
        yield server.url


@pytest.fixture
async def bus(producers_nats_url: str) -> AsyncIterator[Client]:
    """A client on a fresh command stream (work queue, duplicate window) and keys bucket."""
    client = await nats.connect(producers_nats_url, inbox_prefix=tenant_inbox_prefix(TENANT))
    js = client.jetstream()
    for remove in (js.delete_stream(COMMAND_STREAM), js.delete_key_value(KEYS_BUCKET)):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await remove
    config = StreamConfig(
        name=COMMAND_STREAM,
        subjects=[command_subjects_all()],
        retention=RetentionPolicy.WORK_QUEUE,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    await created_again(lambda: js.add_stream(config))
    await created_again(lambda: js.create_key_value(bucket=KEYS_BUCKET))
    yield client
    await client.close()


async def created_again(create: Callable[[], Awaitable[object]]) -> object:
    """``create()`` once the server can: right after a stream (a bucket is one too) is
    deleted, nats-server may still be removing its files, and refuses to create it
    again meanwhile ("error creating store for stream"; it once failed a CI run)."""

    async def attempt() -> object:
        try:
            return await create()
        except nats.js.errors.ServerError as error:
            if error.err_code != STORE_NOT_CREATED:
                raise
            return None

    return await wait_for(attempt, message="the stream's store, created again")


@pytest.fixture
async def seal_keys(bus: Client) -> SealKeys:
    keys = SealKeys(bus.jetstream())
    await keys.rotate()
    return keys


@pytest.fixture
async def encryptor(bus: Client, seal_keys: SealKeys) -> AsyncIterator[FakeEncryptor]:
    fake = FakeEncryptor(bus, seal_keys)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def tester(bus: Client, seal_keys: SealKeys) -> AsyncIterator[FakeTester]:
    fake = FakeTester(bus, seal_keys)
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.failures == []  # every command published parsed under the contract


@pytest.fixture
async def producer(producers_nats_url: str, bus: Client) -> AsyncIterator[Producer]:
    async with await Producer.connect(
        producers_nats_url, tenant=TENANT, actor_id=ACTOR, timeout_s=5.0
    ) as connected:
        yield connected
