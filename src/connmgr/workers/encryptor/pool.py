"""The encryptor pool's process: start-up checks, then the batch consumer loop.

Start-up fails closed: the key ring must open every data key already stored,
and the seal key's public half is published to KV for producers.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    ENCRYPTOR_CONSUMER,
    MSG_ID_HEADER,
    SEAL_KEY_ENTRY,
    ConsumerSpec,
)
from connmgr.storage.data_keys import all_data_keys
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions
from connmgr.workers.dead_letters import set_aside
from connmgr.workers.encryptor.batch import EncryptorBatch, Handled, Inbound
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring, KeyringError
from connmgr.workers.streams import ensure_consumer, ensure_streams, keys_bucket

log = structlog.get_logger("connmgr.encryptor")


async def verify_keyring_opens(engine: AsyncEngine, keyring: Keyring) -> None:
    """Refuse to start when the ring cannot unwrap a stored data key of any KEK in use."""
    async with engine.connect() as connection:
        stored = await all_data_keys(connection)
    checked: set[str] = set()
    for connection_id, wrapped in stored.items():
        if wrapped.kek_id in checked:
            continue
        keyring.unwrap(wrapped, connection_id)
        checked.add(wrapped.kek_id)


async def publish_seal_key(nc: NatsClient, keyring: Keyring) -> None:
    bucket = await keys_bucket(nc.jetstream())
    document = keyring.seal_public_info().model_dump_json().encode()
    entry = None
    try:
        entry = await bucket.get(SEAL_KEY_ENTRY)
    except Exception:
        entry = None
    if entry is None or entry.value != document:
        await bucket.put(SEAL_KEY_ENTRY, document)


class EncryptorPool:
    def __init__(
        self,
        nc: NatsClient,
        engine: AsyncEngine,
        ports: EncryptorPorts,
        batch_size: int,
        spec: ConsumerSpec = ENCRYPTOR_CONSUMER,
    ) -> None:
        self._nc = nc
        self._spec = spec
        self._batch = EncryptorBatch(engine, ports, spec.max_deliver)
        self._engine = engine
        self._ports = ports
        self._batch_size = batch_size

    async def start(self) -> None:
        await verify_keyring_opens(self._engine, self._ports.keyring)
        js = self._nc.jetstream()
        await ensure_streams(js)
        await ensure_consumer(js, COMMAND_STREAM, self._spec)
        await publish_seal_key(self._nc, self._ports.keyring)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = BatchConsumer(
            self._nc.jetstream(),
            COMMAND_STREAM,
            self._spec,
            self.process,
            ConsumerOptions(batch_size=self._batch_size),
        )
        await consumer.run(stop)

    async def process(self, messages: list[Msg]) -> list[bool]:
        started = time.perf_counter()
        results = await self._batch.process([_inbound(message) for message in messages])
        elapsed_ms = round((time.perf_counter() - started) * 1000 / max(len(messages), 1), 3)
        for message, result in zip(messages, results, strict=True):
            await self._reply(result)
            if result.dead_letter and result.outcome is not None:
                await set_aside(self._nc, message, str(result.outcome.command_id))
            _log_handled(result, elapsed_ms)
        return [not result.retry for result in results]

    async def _reply(self, result: Handled) -> None:
        if result.outcome is not None and result.reply_to:
            await self._nc.publish(result.reply_to, result.outcome.model_dump_json().encode())


def _inbound(message: Msg) -> Inbound:
    metadata = message.metadata
    return Inbound(
        data=message.data,
        subject=message.subject,
        msg_id=(message.headers or {}).get(MSG_ID_HEADER),
        stream_sequence=metadata.sequence.stream,
        num_delivered=metadata.num_delivered,
        headers=message.headers,
    )


def _log_handled(result: Handled, elapsed_ms: float) -> None:
    if result.outcome is None:
        log.warning("command_retry", outcome="retry", duration_ms=elapsed_ms)
        return
    outcome = result.outcome
    log.info(
        "command_handled",
        command_id=str(outcome.command_id),
        connection_id=str(outcome.connection_id) if outcome.connection_id else None,
        outcome=outcome.outcome,
        reason=outcome.reason,
        duplicate=result.duplicate,
        duration_ms=elapsed_ms,
    )


__all__ = ["EncryptorPool", "KeyringError", "publish_seal_key", "verify_keyring_opens"]
