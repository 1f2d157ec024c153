"""Secrets on their way out: the encryptor's seal key, and sealing for one connection.

The seal key is the JSON document in KV bucket ``connmgr_keys`` under ``seal``
(``connmgr.schemas.sealed.SealKeyInfo``). ``SealKeyCache`` reads it once and
keeps it until ``refresh()``. ``Sealer`` is the policy a channel seals with: to
that key, or in plaintext where the deployment allows it (then no key is read).
Secret values never reach an error message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from typing import Final
from uuid import UUID

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from pydantic import TypeAdapter, ValidationError

from connmgr.schemas.bus.streams import KEYS_BUCKET, SEAL_KEY_ENTRY
from connmgr.schemas.commands import PlaintextSecrets, SealedSecrets, SecretsInput
from connmgr.schemas.connection_spec import SecretValues
from connmgr.schemas.outcomes import field_errors
from connmgr.schemas.sealed import SealKeyInfo, seal_secrets

from .errors import InvalidCommand, SealKeyUnavailable

_SECRET_VALUES: Final = TypeAdapter(SecretValues)


class SealKeyCache:
    """The encryptor's public seal key, fetched on first use and cached."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._key: SealKeyInfo | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> SealKeyInfo:
        """The cached key, fetched first when none is cached."""
        async with self._lock:
            if self._key is None:
                self._key = await self._fetch()
            return self._key

    async def refresh(self) -> SealKeyInfo:
        """Fetch the key again (after a rejection for an unknown or stale key)."""
        async with self._lock:
            self._key = await self._fetch()
            return self._key

    async def _fetch(self) -> SealKeyInfo:
        where = f"KV bucket {KEYS_BUCKET!r} key {SEAL_KEY_ENTRY!r}"
        try:
            bucket = await self._js.key_value(KEYS_BUCKET)
            entry = await bucket.get(SEAL_KEY_ENTRY)
        except nats.js.errors.NotFoundError:
            raise SealKeyUnavailable(f"no seal key in {where}: is the encryptor running?") from None
        except nats.errors.Error as error:
            name = type(error).__name__
            raise SealKeyUnavailable(f"cannot read the seal key from {where}: {name}") from None
        try:
            key = SealKeyInfo.model_validate_json(entry.value or b"")
        except ValidationError:
            raise SealKeyUnavailable(f"the seal key in {where} is malformed") from None
        if key.kem != "X25519" or len(_b64(key.public_key)) != 32:
            raise SealKeyUnavailable(f"the seal key in {where} is not a raw X25519 key")
        return key


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def check_secrets(secrets: Mapping[str, str]) -> dict[str, str]:
    """A plain copy of a JSON object of string secrets within the limits of a spec's
    (``schemas.connection_spec.SecretValues``); ``InvalidCommand`` names bad fields."""
    try:
        checked = _SECRET_VALUES.validate_python(dict(secrets), strict=True)
    except ValidationError as error:
        raise InvalidCommand("the secrets are invalid", field_errors(error, "secrets")) from None
    return {name: value.get_secret_value() for name, value in checked.items()}


def secrets_input(
    secrets: Mapping[str, str], key: SealKeyInfo | None, connection_id: str
) -> SecretsInput:
    """Sealed secrets for ``connection_id`` with ``key``; plaintext when ``key`` is None."""
    plain = check_secrets(secrets)
    if key is None:
        return PlaintextSecrets(plaintext=plain)
    return SealedSecrets(sealed=seal_secrets(plain, key, connection_id), key_id=key.key_id)


class Sealer:
    """How one channel seals: to the cached seal key, or in plaintext (``keys`` None)."""

    def __init__(self, keys: SealKeyCache | None) -> None:
        self._keys = keys

    async def key(self) -> SealKeyInfo | None:
        """The key to seal with now; None means plaintext."""
        return None if self._keys is None else await self._keys.current()

    async def newer_key(self, used: SealKeyInfo) -> SealKeyInfo | None:
        """After a stale-key rejection: the key fetched again, or None if it is ``used``."""
        if self._keys is None:
            return None
        fresh = await self._keys.refresh()
        return None if fresh == used else fresh

    async def seal(self, secrets: Mapping[str, str], connection_id: UUID) -> SecretsInput:
        """``secrets`` for a payload of ``connection_id``, sealed with the current key."""
        return secrets_input(secrets, await self.key(), str(connection_id))
