"""The key ring: key-encryption keys (KEKs) and the encryptor's HPKE seal keys.

Envelope encryption: each connection's data key is wrapped (AES-256-GCM) by the
primary KEK, with the connection id as associated data. Rotation adds a new
primary and re-wraps; older KEKs stay readable until retired. Seal keys are
X25519 private keys whose public halves producers seal secrets to.

File format (JSON, mode 0600)::

    {"version": 1, "primary": "<kek id>", "keys": {"<kek id>": "<base64 32 bytes>"},
     "seal_primary": "<seal id>", "seal_keys": {"<seal id>": "<base64 32 bytes>"}}

Keys fail closed: a ring that does not parse, lacks its primary or has a key of
the wrong size raises ``KeyringError`` and the worker refuses to start; so does
a ring that cannot open the data keys already stored (``verify_keyring_opens``,
run at start-up by the encryptor and the notifier).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.sealed import SealKeyInfo, public_key_info
from connmgr.storage.data_keys import WrappedDataKey, all_data_keys

KEY_BYTES = 32
NONCE_BYTES = 12


class KeyringError(RuntimeError):
    """The key ring is missing, malformed, or cannot open what it must."""


@dataclass(frozen=True)
class Keyring:
    primary: str
    keys: dict[str, bytes]
    seal_primary: str
    seal_keys: dict[str, bytes] = field(repr=False)

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary!r}, keys={sorted(self.keys)!r})"

    @classmethod
    def generate(cls) -> Keyring:
        kek_id, seal_id = _new_id("kek"), _new_id("seal")
        private = X25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(kek_id, {kek_id: os.urandom(KEY_BYTES)}, seal_id, {seal_id: private})

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            document = json.loads(text)
            ring = cls(
                primary=document["primary"],
                keys=_decode_keys(document["keys"]),
                seal_primary=document["seal_primary"],
                seal_keys=_decode_keys(document["seal_keys"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise KeyringError("the key ring is not valid key ring JSON") from error
        if ring.primary not in ring.keys or ring.seal_primary not in ring.seal_keys:
            raise KeyringError("the key ring's primary key is not in the ring")
        return ring

    def to_json(self) -> str:
        document: dict[str, Any] = {
            "version": 1,
            "primary": self.primary,
            "keys": _encode_keys(self.keys),
            "seal_primary": self.seal_primary,
            "seal_keys": _encode_keys(self.seal_keys),
        }
        return json.dumps(document, indent=2)

    def new_data_key(self, connection_id: str) -> tuple[bytes, WrappedDataKey]:
        """A fresh random data key, and its wrapping by the primary KEK."""
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self.wrap(data_key, connection_id)

    def wrap(self, data_key: bytes, connection_id: str) -> WrappedDataKey:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(nonce, data_key, _aad(connection_id))
        return WrappedDataKey(kek_id=self.primary, wrapped_key=nonce + sealed)

    def unwrap(self, wrapped: WrappedDataKey, connection_id: str) -> bytes:
        kek = self.keys.get(wrapped.kek_id)
        if kek is None:
            raise KeyringError(f"key {wrapped.kek_id!r} is not in the key ring")
        nonce, sealed = wrapped.wrapped_key[:NONCE_BYTES], wrapped.wrapped_key[NONCE_BYTES:]
        try:
            return AESGCM(kek).decrypt(nonce, sealed, _aad(connection_id))
        except InvalidTag as error:
            raise KeyringError(f"key {wrapped.kek_id!r} cannot open this data key") from error

    def seal_private_key(self, key_id: str) -> X25519PrivateKey | None:
        return self._seal_private_keys.get(key_id)

    @cached_property
    def _seal_private_keys(self) -> dict[str, X25519PrivateKey]:
        return {k: X25519PrivateKey.from_private_bytes(v) for k, v in self.seal_keys.items()}

    def seal_public_info(self) -> SealKeyInfo:
        private = X25519PrivateKey.from_private_bytes(self.seal_keys[self.seal_primary])
        return public_key_info(self.seal_primary, private.public_key())

    def with_new_primary(self) -> Keyring:
        """The ring with a new primary KEK; older KEKs stay for reading."""
        kek_id = _new_id("kek")
        return replace(self, primary=kek_id, keys={**self.keys, kek_id: os.urandom(KEY_BYTES)})

    def without_key(self, kek_id: str) -> Keyring:
        if kek_id == self.primary:
            raise KeyringError("the primary key cannot be retired; rotate first")
        return replace(self, keys={k: v for k, v in self.keys.items() if k != kek_id})


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


def _aad(connection_id: str) -> bytes:
    return f"connmgr/data-key/{connection_id}".encode()


def _new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _decode_keys(encoded: dict[str, str]) -> dict[str, bytes]:
    keys = {key_id: base64.b64decode(value, validate=True) for key_id, value in encoded.items()}
    if not keys or any(len(value) != KEY_BYTES for value in keys.values()):
        raise ValueError("every key must be 32 bytes")
    return keys


def _encode_keys(keys: dict[str, bytes]) -> dict[str, str]:
    return {key_id: base64.b64encode(value).decode() for key_id, value in keys.items()}
