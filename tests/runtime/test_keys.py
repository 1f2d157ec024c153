"""Key rotation round trip, and workers that refuse to start without usable keys."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime import admin
from connmgr.runtime.keyfiles import ensure_keyring_file, load_keyring, write_private_file
from connmgr.schemas.settings import Settings
from connmgr.storage.data_keys import all_data_keys
from connmgr.storage.database import create_engine, migrate
from connmgr.storage.projection_store import load_all
from connmgr.workers.encryptor.batch import EncryptorBatch, Inbound
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring, KeyringError, verify_keyring_opens
from connmgr.workers.secret_box import decrypt_secrets
from support.commands import command, postgres_payload, sealed


async def seed(engine: AsyncEngine, ring: Keyring, count: int) -> dict[str, str]:
    batch = EncryptorBatch(engine, EncryptorPorts(ring, False), max_deliver=5)
    passwords = {}
    items = []
    for n in range(count):
        connection_id = str(uuid.uuid4())
        passwords[connection_id] = f"password-{n}"
        secrets = sealed(
            {"password": passwords[connection_id]}, ring.seal_public_info(), connection_id
        )
        payload = postgres_payload(name=f"db-{connection_id}", secrets=secrets)  # unique names
        document = command("create", connection_id, payload)
        items.append(
            Inbound(
                json.dumps(document).encode(),
                f"connmgr.cmd.acme.create.{connection_id}",
                None,
                n,
                1,
            )
        )
    assert all(r.outcome and r.outcome.outcome == "accepted" for r in await batch.process(items))
    return passwords


async def readable(engine: AsyncEngine, ring: Keyring) -> dict[str, str]:
    async with engine.connect() as connection:
        keys = await all_data_keys(connection)
        states = await load_all(connection)
    found = {}
    for connection_id, state in states.items():
        assert state.secrets is not None
        data_key = ring.unwrap(keys[connection_id], connection_id)
        found[connection_id] = decrypt_secrets(data_key, state.secrets, connection_id)["password"]
    return found


async def test_rotation_rewraps_every_key_and_the_old_one_can_be_retired(
    tmp_path: Path, database_url: str
) -> None:
    ring_file = tmp_path / "keyring.json"
    old = ensure_keyring_file(ring_file)
    settings = Settings(database_url=database_url, keyring_file=ring_file)
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        passwords = await seed(engine, old, 5)
        with pytest.raises(KeyringError, match="still wraps"):
            await admin.run_keys_retire(settings, argparse.Namespace(key_id=old.primary))
        assert await admin.run_keys_rotate(settings, argparse.Namespace()) == 0
        rotated = load_keyring(settings)
        assert rotated.primary != old.primary
        async with engine.connect() as connection:
            assert {k.kek_id for k in (await all_data_keys(connection)).values()} == {
                rotated.primary
            }
        assert await admin.run_keys_retire(settings, argparse.Namespace(key_id=old.primary)) == 0
        retired = load_keyring(settings)
        assert old.primary not in retired.keys
        assert await readable(engine, retired) == passwords
        await verify_keyring_opens(engine, retired)
        with pytest.raises(KeyringError):
            await verify_keyring_opens(engine, old)
    finally:
        await engine.dispose()


def test_a_world_readable_key_ring_is_refused(tmp_path: Path) -> None:
    ring_file = tmp_path / "keyring.json"
    write_private_file(ring_file, Keyring.generate().to_json())
    ring_file.chmod(0o644)
    with pytest.raises(KeyringError, match="owner only"):
        load_keyring(Settings(keyring_file=ring_file))


def test_a_malformed_key_ring_is_refused() -> None:
    with pytest.raises(KeyringError):
        Keyring.from_json('{"primary": "k", "keys": {"k": "c2hvcnQ="}}')


def test_the_key_ring_never_prints_its_keys() -> None:
    ring = Keyring.generate()
    assert all(key.hex() not in repr(ring) for key in ring.keys.values())


@pytest.mark.parametrize("pool", ["encryptor"])
def test_a_worker_without_keys_refuses_to_start(pool: str, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "CONNMGR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db.sqlite",
        "CONNMGR_NATS_URL": "nats://127.0.0.1:1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "connmgr.runtime.cli", "worker", pool],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78
    assert "refusing to start" in result.stderr
    assert "key ring" in result.stderr
