"""The encryptor's side of the bus, faked for producer tests.

``SealKeys`` publishes a fresh X25519 seal key document to the keys bucket and
keeps the private key. ``FakeEncryptor`` takes each command off the stream,
parses it with the contract's parser, opens its sealed secrets with the private
key for the command's connection id, records everything, acks, and publishes a
``CommandOutcome`` to ``reply_to`` (unless told to stay silent or to reject).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from connmgr.schemas.bus import (
    COMMAND_STREAM,
    KEYS_BUCKET,
    MSG_ID_HEADER,
    SEAL_KEY_ENTRY,
    command_subjects_all,
)
from connmgr.schemas.commands import (
    EncryptorCommand,
    PlaintextSecrets,
    SealedSecrets,
    parse_encryptor_command,
)
from connmgr.schemas.outcomes import CommandOutcome, Reason
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
    _subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self.nc.jetstream().subscribe(
            command_subjects_all(), stream=COMMAND_STREAM, cb=self._handle, manual_ack=True
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()

    async def _handle(self, msg: Msg) -> None:
        command = parse_encryptor_command(msg.data)
        if not isinstance(command, EncryptorCommand):
            self.failures.append(f"unparseable command: {command}")
            await msg.term()
            return
        secrets, reason = self._open(command)
        headers = msg.headers or {}
        record = Received(msg.subject, headers.get(MSG_ID_HEADER), msg.data, command, secrets)
        self.received.append(record)
        await msg.ack()
        if self.reject_next:
            reason = self.reject_next.pop(0)
        record.reply = _outcome(command, reason)
        if command.reply_to is not None and not self.silent:
            await self.nc.publish(command.reply_to, record.reply.model_dump_json().encode())

    def _open(self, command: EncryptorCommand) -> tuple[dict[str, str] | None, Reason | None]:
        secrets = getattr(command.payload, "secrets", None)
        if isinstance(secrets, PlaintextSecrets):
            return secrets.plaintext, None
        if not isinstance(secrets, SealedSecrets):
            return None, None
        if secrets.key_id != self.keys.info.key_id:
            return None, Reason.UNKNOWN_SEAL_KEY
        return open_secrets(secrets.sealed, self.keys.private, str(command.connection_id)), None


def _outcome(command: EncryptorCommand, reason: Reason | None) -> CommandOutcome:
    if reason is not None:
        return CommandOutcome(
            command_id=command.command_id,
            connection_id=command.connection_id,
            outcome="rejected",
            version=None,
            events=["CommandRejected"],
            reason=reason,
            message="rejected by the fake encryptor",
        )
    return CommandOutcome(
        command_id=command.command_id,
        connection_id=command.connection_id,
        outcome="accepted",
        version=1,
        events=[EVENTS[command.type]],
    )
