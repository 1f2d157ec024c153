"""The encryptor pool's process: start-up checks, then the batch consumer loop.

Start-up fails closed: the key ring must open every data key already stored,
and the seal key's public half is published to KV for producers.

Each message of a batch is answered and logged (``message_handled``) in its own
log context (``message_context``). Its ``duration_ms`` is its own: from the
moment the pool got the batch to this message's outcome being final (the
batch committed, its reply published, a dead letter copied), never the
batch's time divided among its messages.

Each message is handled in its own span (``encryptor process``), a child of its
command's valid ``traceparent`` or a root, whose ``traceparent`` its events'
metadata keeps; the span ends with the message's outcome. With no tracer
provider the command's valid ``traceparent`` goes into the metadata unchanged,
and nothing else is done per message (``connmgr.tracing``).
"""

from __future__ import annotations

import asyncio
import time

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from opentelemetry.trace import Span, SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.bus.consumers import ENCRYPTOR_CONSUMER, ConsumerSpec
from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM, SEAL_KEY_ENTRY
from connmgr.tracing.spans import recording, sent_on, start_span
from connmgr.tracing.traceparent import traceparent_in
from connmgr.workers.consumer import BatchConsumer, ConsumerOptions
from connmgr.workers.dead_letters import set_aside
from connmgr.workers.durables import ensure_consumer
from connmgr.workers.encryptor.batch import EncryptorBatch, Handled, Inbound
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring, verify_keyring_opens
from connmgr.workers.message_context import bound, log_handled, message_fields
from connmgr.workers.metrics import record_command, record_dead_letter
from connmgr.workers.streams import ensure_streams, keys_bucket

log = structlog.get_logger("connmgr.encryptor")
POOL = "encryptor"


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
        *,
        in_flight: int = 1,
    ) -> None:
        self._nc = nc
        self._spec = spec
        self._batch = EncryptorBatch(engine, ports, spec.max_deliver)
        self._engine = engine
        self._ports = ports
        self._options = ConsumerOptions(batch_size=batch_size, in_flight=in_flight)

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
            self._options,
        )
        await consumer.run(stop)

    async def process(self, messages: list[Msg]) -> list[bool]:
        started = time.perf_counter()
        parents = [traceparent_in(message.headers) for message in messages]
        spans = _message_spans(parents) if recording() else None
        sent = parents if spans is None else [sent_on(span, None) for span in spans]
        items = [_inbound(message, sent[n]) for n, message in enumerate(messages)]
        try:
            results = await self._batch.process(items)
        except BaseException:
            _end_spans(spans, None)
            raise
        for message, item, result in zip(messages, items, results, strict=True):
            with bound(**item.log_fields):
                await self._reply(result)
                if result.dead_letter and result.outcome is not None:
                    await set_aside(self._nc, message, str(result.outcome.command_id))
                    record_dead_letter(POOL, "max_deliveries")
                _log_handled(result, started)
                if result.outcome is not None:
                    record_command(POOL, message.subject, result.outcome, started)
        _end_spans(spans, results)
        return [not result.retry for result in results]

    async def _reply(self, result: Handled) -> None:
        if result.outcome is not None and result.reply_to:
            await self._nc.publish(result.reply_to, result.outcome.model_dump_json().encode())


def _message_spans(parents: list[str | None]) -> list[Span]:
    """One span per message, child of its valid ``traceparent`` (else a root)."""
    attributes = {"messaging.system": "nats", "connmgr.pool": "encryptor"}
    return [
        start_span("encryptor process", parent, SpanKind.CONSUMER, attributes) for parent in parents
    ]


def _end_spans(spans: list[Span] | None, results: list[Handled] | None) -> None:
    """End each span with its message's outcome (``retry`` when none is final)."""
    if spans is None:
        return
    for n, span in enumerate(spans):
        outcome = results[n].outcome if results is not None else None
        span.set_attribute("connmgr.outcome", outcome.outcome if outcome else "retry")
        if outcome is not None and outcome.reason:
            span.set_attribute("connmgr.reason", outcome.reason)
        span.end()


def _inbound(message: Msg, traceparent: str | None) -> Inbound:
    metadata = message.metadata
    return Inbound(
        data=message.data,
        subject=message.subject,
        msg_id=(message.headers or {}).get(MSG_ID_HEADER),
        stream_sequence=metadata.sequence.stream,
        num_delivered=metadata.num_delivered,
        headers=message.headers,
        log_fields=message_fields(message),
        traceparent=traceparent,
    )


def _log_handled(result: Handled, started: float) -> None:
    """Command and connection ids come from the message's context."""
    if result.outcome is None:
        log_handled(log, started, "retry", warn=True)
        return
    outcome = result.outcome
    log_handled(log, started, outcome.outcome, reason=outcome.reason, duplicate=result.duplicate)
