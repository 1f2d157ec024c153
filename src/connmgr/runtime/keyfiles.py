"""Key ring, callout issuer seed and token files: read from settings, written with mode 0600.

Keys fail closed: no ring configured, an unreadable file, a file others can
read, or a malformed ring all raise ``KeyringError``, and the process refuses
to start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from connmgr.schemas.settings import Settings
from connmgr.workers.keyring import Keyring, KeyringError
from connmgr.workers.nats_auth.issuer import issuer_from_seed
from connmgr.workers.nats_auth.jwt import Signer


def load_keyring(settings: Settings) -> Keyring:
    if settings.keyring is not None:
        return Keyring.from_json(settings.keyring.get_secret_value())
    if settings.keyring_file is None:
        raise KeyringError("no key ring: set CONNMGR_KEYRING or CONNMGR_KEYRING_FILE")
    return Keyring.from_json(read_private_file(settings.keyring_file))


def load_callout_issuer(settings: Settings) -> Signer:
    """The auth callout's issuer key, from the seed setting or its mode-0600 file."""
    if settings.nats_auth_issuer_seed is not None:
        return issuer_from_seed(settings.nats_auth_issuer_seed.get_secret_value())
    if settings.nats_auth_issuer_seed_file is None:
        raise KeyringError(
            "no auth callout issuer: set CONNMGR_NATS_AUTH_ISSUER_SEED or "
            "CONNMGR_NATS_AUTH_ISSUER_SEED_FILE"
        )
    return issuer_from_seed(read_private_file(settings.nats_auth_issuer_seed_file))


def read_private_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(f"{path} must be readable by its owner only (chmod 600)")
        return path.read_text()
    except OSError as error:
        raise KeyringError(f"cannot read {path}: {error.strerror}") from error


def write_private_file(path: Path, content: str) -> None:
    """Write atomically, readable by the owner only, never briefly by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def ensure_keyring_file(path: Path) -> Keyring:
    """The ring in ``path``, generated there first when the file does not exist."""
    if not path.exists():
        write_private_file(path, Keyring.generate().to_json())
    return Keyring.from_json(read_private_file(path))
