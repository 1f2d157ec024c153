"""The raw-client floor of the write path: a child program, ``python floor_worker.py``.

The work a create command cannot skip, with raw clients only (nats-py,
cryptography, asyncpg) and nothing of connmgr, so its cost is the floor connmgr's
encryptor is measured against (``docs/decisions.md``, issue 15):

- pull a batch of up to ``BATCH`` messages from its own durable consumer;
- parse each message (``json.loads``; the tenant from its subject);
- HPKE-unseal its secrets (the seal key of the run's key ring);
- encrypt them under a fresh data key (AES-256-GCM, connmgr's associated data);
- wrap the data key with the primary KEK (AES-256-GCM);
- hash-chain the event (SHA-256 over the previous hash and the same canonical JSON
  connmgr's log hashes);
- in one transaction per batch: lock the chain head, COPY the events, projection
  rows, tag rows, data keys and handled-command records into the same tables
  connmgr writes (in schema ``FLOOR_SCHEMA``, copied from connmgr's), and advance
  the chain head;
- publish the outcome to ``reply_to`` when there is one, and ack each message.

It does no validation beyond parsing, reads no connection state and looks up no
earlier outcome: a duplicate fails the batch on a unique key (the bench sends none).

Environment: ``FLOOR_NATS_URL``, ``FLOOR_DSN`` (asyncpg), ``FLOOR_KEYRING`` (the
key ring JSON), ``FLOOR_STREAM``, ``FLOOR_SUBJECTS``, ``FLOOR_DURABLE``. It stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import nats
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig

BATCH: Final = 256
FLOOR_SCHEMA: Final = "floor"
SUITE: Final = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
HEALTH_CHECK: Final = {
    "enabled": True,
    "interval_s": 60,
    "timeout_s": 5,
    "failure_threshold": 3,
    "recovery_threshold": 2,
}
TABLES: Final = ("events", "connections", "connection_tags", "data_keys", "handled_commands")


class Keys:
    """The run's key ring, read with the standard library: the primary KEK and seal keys."""

    def __init__(self, text: str) -> None:
        ring = json.loads(text)
        self.kek_id: str = ring["primary"]
        self.kek = AESGCM(base64.b64decode(ring["keys"][self.kek_id]))
        self.seal = {
            key_id: X25519PrivateKey.from_private_bytes(base64.b64decode(value))
            for key_id, value in ring["seal_keys"].items()
        }


class Chained:
    """One command made rows: what the batch's COPYs write."""

    def __init__(self, keys: Keys, subject: str, body: bytes, now: datetime) -> None:
        command = json.loads(body)
        payload = command["payload"]
        self.tenant = subject.split(".")[2]
        self.connection_id = command["connection_id"]
        self.command_id = command["command_id"]
        self.reply_to: str | None = command.get("reply_to")
        self.payload = payload
        self.now = now
        sealed = base64.b64decode(payload["secrets"]["sealed"])
        info = f"connmgr/secrets/v1/{self.connection_id}".encode()
        secrets = json.loads(SUITE.decrypt(sealed, keys.seal[payload["secrets"]["key_id"]], info))
        self.secrets = _encrypted(secrets, self.connection_id)
        data_key = self.secrets.pop("_data_key")
        nonce = os.urandom(12)
        aad = f"connmgr/data-key/{self.connection_id}".encode()
        self.wrapped = nonce + keys.kek.encrypt(nonce, data_key, aad)
        self.kek_id = keys.kek_id
        self.data = {
            "schema_version": 2,
            "name": payload["name"],
            "kind": payload["kind"],
            "template": payload.get("template"),
            "config": payload["config"],
            "auth": payload["auth"],
            "secrets": self.secrets,
            "health_check": payload.get("health_check") or HEALTH_CHECK,
            "tags": list(dict.fromkeys(payload.get("tags", []))),
            "description": payload.get("description", ""),
            "notify": None,
        }
        actor = command["actor"]
        self.metadata = {
            "command_id": self.command_id,
            "actor_id": actor["id"],
            "tenant": self.tenant,
            "correlation_id": command.get("correlation_id"),
            "causation_id": None,
        }
        self.event_id = str(uuid.uuid4())
        self.position = 0
        self.hash = ""

    def chain(self, position: int, previous_hash: str) -> str:
        """This event's hash after ``previous_hash``, as connmgr's log computes it."""
        self.position = position
        document = {
            "position": position,
            "event_id": self.event_id,
            "stream_id": self.connection_id,
            "version": 1,
            "type": "ConnectionCreated",
            "tenant": self.tenant,
            "data": self.data,
            "metadata": self.metadata,
            "recorded_at": self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        self.hash = hashlib.sha256(previous_hash.encode() + canonical).hexdigest()
        return self.hash

    def outcome(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "connection_id": self.connection_id,
            "outcome": "accepted",
            "version": 1,
            "events": ["ConnectionCreated"],
            "reason": None,
            "message": None,
            "errors": [],
            "result": None,
        }

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        data, now = self.data, self.now
        return {
            "events": [
                (self.position, self.event_id, self.connection_id, 1, "ConnectionCreated",
                 self.tenant, json.dumps(data), json.dumps(self.metadata), now, self.hash)
            ],
            "connections": [
                (self.connection_id, self.tenant, data["name"], data["kind"], data["template"],
                 json.dumps(data["config"]), json.dumps(data["auth"]), json.dumps(self.secrets),
                 json.dumps(data["health_check"]), json.dumps(data["tags"]),
                 data["description"], "unknown", 1, False, now, now, None, None, None)
            ],
            "connection_tags": [(self.connection_id, tag) for tag in data["tags"]],
            "data_keys": [(self.connection_id, self.kek_id, self.wrapped, now)],
            "handled_commands": [
                (self.command_id, self.connection_id, self.tenant, json.dumps(self.outcome()), now)
            ],
        }  # fmt: skip


def _encrypted(secrets: dict[str, str], connection_id: str) -> dict[str, Any]:
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    plaintext = json.dumps(secrets, separators=(",", ":"), sort_keys=True).encode()
    aad = f"connmgr/secrets/{connection_id}/1".encode()
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, aad)
    return {
        "secrets_version": 1,
        "field_names": sorted(secrets),
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "algorithm": "AES-256-GCM",
        "_data_key": data_key,
    }


async def write_batch(db: asyncpg.Connection, made: list[Chained]) -> None:
    """One transaction: the chain head locked, every table COPYed, the head advanced."""
    async with db.transaction():
        head = await db.fetchrow(
            f"SELECT position, hash FROM {FLOOR_SCHEMA}.chain_head WHERE id = 1 FOR UPDATE"
        )
        position, previous = head["position"], head["hash"]
        for item in made:
            position += 1
            previous = item.chain(position, previous)
        rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
        for item in made:
            for table, its_rows in item.rows().items():
                rows[table] += its_rows
        for table in TABLES:
            if rows[table]:
                await db.copy_records_to_table(table, records=rows[table], schema_name=FLOOR_SCHEMA)
        await db.execute(
            f"UPDATE {FLOOR_SCHEMA}.chain_head SET position = $1, hash = $2 WHERE id = 1",
            position,
            previous,
        )


async def run(stop: asyncio.Event) -> None:
    env = os.environ
    keys = Keys(env["FLOOR_KEYRING"])
    db = await asyncpg.connect(env["FLOOR_DSN"])
    nc = await nats.connect(env["FLOOR_NATS_URL"], name="connmgr-bench-floor")
    js = nc.jetstream()
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=-1)
    subscription = await js.pull_subscribe(
        env["FLOOR_SUBJECTS"], env["FLOOR_DURABLE"], stream=env["FLOOR_STREAM"], config=config
    )
    try:
        while not stop.is_set():
            try:
                messages = await subscription.fetch(BATCH, timeout=1.0)
            except (NatsTimeout, TimeoutError):  # nats-py raises either
                continue
            await handle(nc, db, keys, messages)
    finally:
        # Everything handled is acked; a drain would wait on the pull subscription's
        # inbox until its own timeout (10 s of every run's stop, the bench's grace).
        await nc.close()
        await db.close()


async def handle(nc: NatsClient, db: asyncpg.Connection, keys: Keys, messages: list[Msg]) -> None:
    now = datetime.now(UTC)
    made = [Chained(keys, message.subject, message.data, now) for message in messages]
    await write_batch(db, made)
    for item, message in zip(made, messages, strict=True):
        if item.reply_to:
            await nc.publish(item.reply_to, json.dumps(item.outcome()).encode())
        await message.ack()


def main() -> None:
    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await run(stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
