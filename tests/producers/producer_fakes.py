"""The workers' side of the bus, faked for producer tests.

``SealKeys`` publishes a fresh X25519 seal key document to the keys bucket and
keeps the private key. ``FakeEncryptor`` takes each create/update/rotate/delete
command off the stream, parses it with the contract's parser, opens its sealed
secrets with the private key for the command's connection id, records
everything, acks, and publishes a ``CommandOutcome`` to ``reply_to`` (unless
told to stay silent or to reject). ``FakeTester`` does the same for ``test`` and
``check`` commands (a draft's secrets opened for the draft's id) and answers
with the next scripted test result. Each subscribes only to its own verbs, as
the real pools' consumers do on the work-queue stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats.errors
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import PubAck

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.streams import COMMAND_STREAM, KEYS_BUCKET, SEAL_KEY_ENTRY
from connmgr.schemas.bus.subjects import ENCRYPTOR_VERBS, command_subject
from connmgr.schemas.command_parsing import parse_encryptor_command
from connmgr.schemas.commands import EncryptorCommand, PlaintextSecrets, SealedSecrets
from connmgr.schemas.outcomes import CommandOutcome, Reason, Rejection
from connmgr.schemas.probe_commands import ProbeCommand, TestConnection, parse_probe_command
from connmgr.schemas.sealed import SealKeyInfo, open_secrets, public_key_info

TENANT = "acme"
ACTOR = "tester@acme"
EVENTS = {
    "create": "ConnectionCreated",
    "update": "ConnectionUpdated",
    "rotate": "SecretsRotated",
    "delete": "ConnectionDeleted",
}


class SealKeys:
    """The encryptor's seal key pair; ``rotate()`` publishes a new one to KV."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.private = X25519PrivateKey.generate()
        self.info = public_key_info("unset", self.private.public_key())

    async def rotate(self) -> SealKeyInfo:
        self.private = X25519PrivateKey.generate()
        self.info = public_key_info(f"seal-{uuid.uuid4().hex[:8]}", self.private.public_key())
        bucket = await self._js.key_value(KEYS_BUCKET)
        await bucket.put(SEAL_KEY_ENTRY, self.info.model_dump_json().encode())
        return self.info


@dataclass
class Received:
    subject: str
    msg_id: str | None
    raw: bytes
    command: EncryptorCommand
    secrets: dict[str, str] | None
    reply: CommandOutcome | None = None


@dataclass
class FakeEncryptor:
    nc: Client
    keys: SealKeys
    silent: bool = False
    reject_next: list[Reason] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    _subscriptions: list[Subscription] = field(default_factory=list)

    async def start(self) -> None:
        self._subscriptions = await _subscribe(self.nc, ENCRYPTOR_VERBS, self._handle)

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()

    async def _handle(self, msg: Msg) -> None:
        command = parse_encryptor_command(msg.data)
        if not isinstance(command, EncryptorCommand):
            self.failures.append(f"unparseable command: {command}")
            await msg.term()
            return
        payload_secrets = getattr(command.payload, "secrets", None)
        secrets, reason = opened(payload_secrets, self.keys, str(command.connection_id))
        headers = msg.headers or {}
        record = Received(msg.subject, headers.get(MSG_ID_HEADER), msg.data, command, secrets)
        self.received.append(record)
        await msg.ack()
        if self.reject_next:
            reason = self.reject_next.pop(0)
        record.reply = _outcome(command, reason)
        if command.reply_to is not None and not self.silent:
            await self.nc.publish(command.reply_to, record.reply.model_dump_json().encode())


def opened(
    secrets: object, keys: SealKeys, connection_id: str
) -> tuple[dict[str, str] | None, Reason | None]:
    """The secrets a worker would read: opened with the seal key for ``connection_id``."""
    if isinstance(secrets, PlaintextSecrets):
        return secrets.plaintext, None
    if not isinstance(secrets, SealedSecrets):
        return None, None
    if secrets.key_id != keys.info.key_id:
        return None, Reason.UNKNOWN_SEAL_KEY
    return open_secrets(secrets.sealed, keys.private, connection_id), None


def _rejected(command: EncryptorCommand | ProbeCommand, reason: Reason) -> CommandOutcome:
    return CommandOutcome(
        command_id=command.command_id,
        connection_id=command.connection_id,
        outcome="rejected",
        version=None,
        events=["CommandRejected"],
        reason=reason,
        message="rejected by the fake worker",
    )


def _outcome(command: EncryptorCommand, reason: Reason | None) -> CommandOutcome:
    if reason is not None:
        return _rejected(command, reason)
    return CommandOutcome(
        command_id=command.command_id,
        connection_id=command.connection_id,
        outcome="accepted",
        version=1,
        events=[EVENTS[command.type]],
    )


async def _subscribe(
    nc: Client, verbs: tuple[str, ...], handle: Callable[[Msg], Awaitable[None]]
) -> list[Subscription]:
    """One ephemeral consumer per verb: filters that never overlap on the work queue."""
    js = nc.jetstream()
    return [
        await js.subscribe(
            command_subject("*", verb, "*"), stream=COMMAND_STREAM, cb=handle, manual_ack=True
        )
        for verb in verbs
    ]


def probe_result(outcome: str = "ok", **overrides: Any) -> dict[str, Any]:
    """A test result as the tester pool reports it (``TestResult`` in JSON form)."""
    return {
        "outcome": outcome,
        "detail": "connected and ran the test query" if outcome == "ok" else "it failed",
        "latency_ms": 42.5,
        "phases": {"resolve": 1.5, "connect": 3.5, "tls": 12.0, "auth": 20.0, "query": 5.5},
        "server": {
            "version": "PostgreSQL 16.4",
            "tls_subject": "CN=db.internal",
            "tls_issuer": "CN=Internal CA",
            "tls_not_after": "2027-01-31T00:00:00Z",
        },
        "tested_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


@dataclass
class ReceivedProbe:
    subject: str
    msg_id: str | None
    raw: bytes
    command: ProbeCommand
    secrets: dict[str, str] | None
    reply: CommandOutcome | None = None


@dataclass
class FakeTester:
    """Answers ``test`` and ``check`` commands with ``results`` in turn (then an ``ok``)."""

    nc: Client
    keys: SealKeys
    silent: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    reject_next: list[Reason] = field(default_factory=list)
    received: list[ReceivedProbe] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _subscriptions: list[Subscription] = field(default_factory=list)

    async def start(self) -> None:
        self._subscriptions = await _subscribe(self.nc, ("test", "check"), self._handle)

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()

    async def _handle(self, msg: Msg) -> None:
        command = parse_probe_command(msg.data)
        if isinstance(command, Rejection):
            self.failures.append(f"unparseable command: {command}")
            await msg.term()
            return
        draft = command.draft if isinstance(command, TestConnection) else None
        sealed = None if draft is None else draft.secrets
        secrets, reason = opened(sealed, self.keys, str(command.connection_id))
        headers = msg.headers or {}
        record = ReceivedProbe(msg.subject, headers.get(MSG_ID_HEADER), msg.data, command, secrets)
        self.received.append(record)
        await msg.ack()
        if self.reject_next:
            reason = self.reject_next.pop(0)
        result = self.results.pop(0) if self.results else probe_result()
        record.reply = _probe_outcome(command, reason, result, draft is not None)
        if command.reply_to is not None and not self.silent:
            await self.nc.publish(command.reply_to, record.reply.model_dump_json().encode())


def _probe_outcome(
    command: ProbeCommand, reason: Reason | None, result: dict[str, Any], draft: bool
) -> CommandOutcome:
    if reason is not None:
        return _rejected(command, reason)
    return CommandOutcome(
        command_id=command.command_id,
        connection_id=command.connection_id,
        outcome="accepted",
        version=None if draft else 4,
        events=["ConnectionTested"] if command.type == "test" else [],
        result=result,
    )


class LosesAcks:
    """Publishes for real, then loses the ack of the first ``lose`` calls."""

    def __init__(self, js: JetStreamContext, lose: int, *, store: bool = True) -> None:
        self._js, self._lose, self._store = js, lose, store
        self.calls: list[tuple[bytes, dict[str, Any]]] = []

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> PubAck:
        self.calls.append((payload, dict(headers or {})))
        ack = None
        if self._store:
            ack = await self._js.publish(subject, payload, timeout, stream, headers)
        if len(self.calls) <= self._lose or ack is None:
            raise nats.errors.TimeoutError
        return ack
