"""The shipped NATS configuration: valid, durable, and tenants confined to their subjects."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig

from connmgr.runtime.nats_server import NatsServer, wheel_binary
from connmgr.schemas.bus import command_subject

INFRA = Path(__file__).parents[2] / "infra" / "nats"
PASSWORDS = {
    f"CONNMGR_NATS_{user}_PASSWORD": f"pw-{user.lower()}"
    for user in ("ENCRYPTOR", "TESTER", "PROBER", "RELAY", "NOTIFIER", "TENANT_DEFAULT")
}


@pytest.mark.parametrize("name", ["nats-server.conf", "cluster.conf"])
def test_the_shipped_configuration_is_valid(name: str) -> None:
    env = {**os.environ, **PASSWORDS, "NATS_SERVER_NAME": "connmgr-nats-0"}
    result = subprocess.run(
        [str(wheel_binary()), "-t", "-c", str(INFRA / name)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_a_single_node_syncs_every_write() -> None:
    lines = [
        line.split("#")[0].strip() for line in (INFRA / "nats-server.conf").read_text().splitlines()
    ]
    assert "sync_interval: always" in lines


@pytest.fixture
async def secured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[NatsServer]:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    accounts = (INFRA / "accounts.conf").read_text()
    server = NatsServer(tmp_path / "nats", extra_config=accounts)
    async with server:
        yield server


async def connect(server: NatsServer, user: str) -> Client:
    password = PASSWORDS[f"CONNMGR_NATS_{user.upper().replace('-', '_')}_PASSWORD"]
    return await nats.connect(server.url, user=user, password=password, allow_reconnect=False)


async def test_a_tenant_publishes_only_under_its_own_tenant(secured: NatsServer) -> None:
    encryptor = await connect(secured, "encryptor")
    producer = await connect(secured, "tenant-default")
    try:
        await encryptor.jetstream().add_stream(StreamConfig(name="CMD", subjects=["connmgr.cmd.>"]))
        own = command_subject("default", "create", str(uuid.uuid4()))
        assert (await producer.jetstream().publish(own, b"{}")).seq == 1
        other = command_subject("other", "create", str(uuid.uuid4()))
        with pytest.raises(Exception):  # noqa: B017, PT011 - permission violation or no ack
            await producer.jetstream().publish(other, b"{}", timeout=2)
        info = await encryptor.jetstream().stream_info("CMD")
        assert info.state.messages == 1
    finally:
        await producer.close()
        await encryptor.close()


async def test_a_tenant_cannot_read_the_event_stream(secured: NatsServer) -> None:
    producer = await connect(secured, "tenant-default")
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - no permission for the JS API
            await producer.jetstream().stream_info(
                "CONNMGR_EVT",
            )
    finally:
        await producer.close()
