"""The sealed-secret format: HPKE (RFC 9180) base mode to the encryptor's seal key.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
``info`` = ``connmgr/secrets/v1/<connection_id>``; associated data is empty.
``sealed`` is base64 of ``enc || ciphertext`` (``enc`` is the 32-byte encapsulated key).
Sealing binds the blob to one connection id: opened for another id, it fails.
"""

from __future__ import annotations

import base64
import json
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict

SUITE: Final = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
MAX_SECRET_VALUE: Final = 16384


class SealKeyInfo(BaseModel):
    """The document published in KV bucket ``connmgr_keys`` under ``seal``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str
    kem: str = "X25519"
    public_key: str


class UnsealError(ValueError):
    """The blob is not a sealed secrets object for this connection."""


def seal_info(connection_id: str) -> bytes:
    return f"connmgr/secrets/v1/{connection_id}".encode()


def public_key_info(key_id: str, public_key: X25519PublicKey) -> SealKeyInfo:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return SealKeyInfo(key_id=key_id, public_key=base64.b64encode(raw).decode())


def seal_secrets(secrets: dict[str, str], info: SealKeyInfo, connection_id: str) -> str:
    """Seal a JSON object of secret fields for one connection; returns base64 text."""
    public_key = X25519PublicKey.from_public_bytes(base64.b64decode(info.public_key))
    plaintext = json.dumps(secrets, separators=(",", ":")).encode()
    sealed = SUITE.encrypt(plaintext, public_key, info=seal_info(connection_id))
    return base64.b64encode(sealed).decode()


def open_secrets(sealed: str, private_key: X25519PrivateKey, connection_id: str) -> dict[str, str]:
    """Open a sealed secrets object; raises ``UnsealError`` without detail on any failure."""
    try:
        blob = base64.b64decode(sealed, validate=True)
        plaintext = SUITE.decrypt(blob, private_key, info=seal_info(connection_id))
        document = json.loads(plaintext)
    except (ValueError, InvalidTag, TypeError) as error:
        raise UnsealError("the sealed secrets cannot be opened for this connection") from error
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_SECRET_VALUE
        for k, v in document.items()
    ):
        raise UnsealError("the sealed secrets must be a JSON object of strings")
    return document
