"""The wheel's nats-server as tests and the dev stack use it: JetStream, crash, restart."""

from __future__ import annotations

import asyncio
import os
import uuid

import nats
import pytest
from nats.js.api import StorageType

from connmgr.runtime.nats_server import NatsServer
from connmgr.runtime.nats_server_ready import HOST, NatsServerError
from support.fixture_types import StartNatsServer


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def publish_one(url: str, stream: str, subject: str, data: bytes) -> None:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        await js.add_stream(name=stream, subjects=[subject], storage=StorageType.FILE)
        await js.publish(subject, data)
    finally:
        await client.close()


async def fetch_one(url: str, stream: str, subject: str) -> bytes:
    client = await nats.connect(url)
    try:
        subscription = await client.jetstream().pull_subscribe(subject, stream=stream)
        [message] = await subscription.fetch(1, timeout=5)
        await message.ack()
        return message.data
    finally:
        await client.close()


async def test_the_shared_server_stores_and_delivers_a_jetstream_message(
    nats_server: NatsServer,
) -> None:
    stream, subject = unique("T"), f"{unique('t')}.one"

    await publish_one(nats_server.url, stream, subject, b"hello")

    assert nats_server.url.startswith(f"nats://{HOST}:")
    assert await fetch_one(nats_server.url, stream, subject) == b"hello"


async def test_a_message_survives_a_kill_and_a_restart_on_the_same_store(
    nats_server_factory: StartNatsServer,
) -> None:
    server = await nats_server_factory(jetstream_options="sync_interval: always")
    url_before = server.url
    await publish_one(server.url, "DURABLE", "durable.one", b"kept")

    await server.kill()
    await server.restart()

    assert server.url == url_before
    assert await fetch_one(server.url, "DURABLE", "durable.one") == b"kept"


async def test_stop_leaves_no_process_behind(nats_server_factory: StartNatsServer) -> None:
    server = await nats_server_factory()
    pid = server.pid
    assert pid is not None

    await server.stop()

    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(HOST, server.port)
    await server.stop()  # idempotent


async def test_a_server_that_cannot_start_reports_the_end_of_its_log(
    nats_server_factory: StartNatsServer,
) -> None:
    with pytest.raises(NatsServerError, match='unknown field "no_such_option"'):
        await nats_server_factory(extra_config="no_such_option: 1")


async def test_a_taken_port_is_an_error_not_someone_elses_server(
    nats_server: NatsServer, nats_server_factory: StartNatsServer
) -> None:
    with pytest.raises(NatsServerError, match="address already in use"):
        await nats_server_factory(port=nats_server.port)
