"""The pipeline bench's raw-client floor does connmgr's work, not less (issue 15).

The floor (``bench/pipeline/floor_worker.py``) is only an honest yardstick if what it
computes per command is what connmgr must: the same hash-chain bytes, secrets a
connmgr reader opens with the key ring, an event connmgr's model accepts. Each test
names the shortcut it would catch.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from connmgr.schemas.events import ConnectionCreated
from connmgr.schemas.sealed import seal_secrets
from connmgr.schemas.stored_events import decode_as
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.event_log import GENESIS_HASH, StoredEvent, chain_hash
from connmgr.workers.keyring import Keyring
from connmgr.workers.secret_box import decrypt_secrets

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``bench`` is a package at the repository's root
    sys.path.append(str(ROOT))

from bench.pipeline.floor_worker import Chained, Keys  # noqa: E402

NOW = datetime(2026, 12, 6, 5, 30, 1, 123456, tzinfo=UTC)


def _made(keyring: Keyring, password: str) -> Chained:
    connection_id = str(uuid.uuid4())
    sealed = seal_secrets({"password": password}, keyring.seal_public_info(), connection_id)
    command = {
        "command_id": str(uuid.uuid4()),
        "type": "create",
        "connection_id": connection_id,
        "actor": {"id": "bench", "tenant": "bench"},
        "payload": {
            "name": "orders-db",
            "kind": "postgres",
            "config": {"host": "db.internal", "port": 5432},
            "auth": {"method": "basic", "username": "app"},
            "secrets": {"sealed": sealed, "key_id": keyring.seal_primary},
            "tags": ["bench", "bench"],
        },
    }
    subject = f"floors.cmd.bench.create.{connection_id}"
    return Chained(Keys(keyring.to_json()), subject, json.dumps(command).encode(), NOW)


def test_the_floor_chains_an_event_with_the_bytes_connmgrs_log_hashes() -> None:
    made = _made(Keyring.generate(), "s3cret")
    floor_hash = made.chain(7, GENESIS_HASH)
    event = StoredEvent(
        position=7,
        event_id=made.event_id,
        stream_id=made.connection_id,
        version=1,
        type="ConnectionCreated",
        tenant="bench",
        data=made.data,
        metadata=made.metadata,
        recorded_at=NOW,
        hash="",
    )
    assert floor_hash == chain_hash(GENESIS_HASH, event)


def test_the_floor_unseals_and_encrypts_secrets_connmgr_opens_under_the_wrapped_key() -> None:
    keyring = Keyring.generate()
    made = _made(keyring, "s3cret")
    data_key = keyring.unwrap(WrappedDataKey(made.kek_id, made.wrapped), made.connection_id)
    created = decode_as(ConnectionCreated, made.data)
    assert created.secrets is not None
    assert decrypt_secrets(data_key, created.secrets, made.connection_id) == {"password": "s3cret"}
    assert "s3cret" not in json.dumps(made.rows(), default=str)
    assert created.tags == ["bench"]
