"""Connection secrets under their data key: AES-256-GCM, bound to connection and version.

Associated data ``connmgr/secrets/<connection_id>/<secrets_version>`` stops a
ciphertext from being replayed onto another connection or an older version.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connmgr.schemas.events import EncryptedSecrets

NONCE_BYTES = 12


def _aad(connection_id: str, secrets_version: int) -> bytes:
    return f"connmgr/secrets/{connection_id}/{secrets_version}".encode()


def encrypt_secrets(
    data_key: bytes, secrets: dict[str, str], connection_id: str, secrets_version: int
) -> EncryptedSecrets:
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(secrets, separators=(",", ":"), sort_keys=True).encode()
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _aad(connection_id, secrets_version))
    return EncryptedSecrets(
        secrets_version=secrets_version,
        field_names=sorted(secrets),
        nonce=base64.b64encode(nonce).decode(),
        ciphertext=base64.b64encode(ciphertext).decode(),
    )


def decrypt_secrets(
    data_key: bytes, encrypted: EncryptedSecrets, connection_id: str
) -> dict[str, str]:
    """Raises ``cryptography.exceptions.InvalidTag`` when key, id or version do not match."""
    plaintext = AESGCM(data_key).decrypt(
        base64.b64decode(encrypted.nonce),
        base64.b64decode(encrypted.ciphertext),
        _aad(connection_id, encrypted.secrets_version),
    )
    document: dict[str, str] = json.loads(plaintext)
    return document
