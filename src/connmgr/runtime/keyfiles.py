"""Key ring, callout issuer seed and token files: read from settings, written with mode 0600.

Keys fail closed: no ring configured, an unreadable file, a file others can
read or change, or a malformed ring all raise ``KeyringError``, and the process
refuses to start.

The mount rule (``mount_refusal``; docs/security.md, "Keys fail closed"): a
secret file is read when, after following links, either

- no group or other bit is set (0600, 0400: what connmgr writes), or
- it is a read-only secret mount: mode exactly 0440, its group the process's own
  (effective) group, owned by root or by the process's user, in a directory that
  nobody but root or that user may write. This is what Kubernetes makes of a
  Secret volume with ``fsGroup`` equal to ``runAsGroup`` and ``defaultMode: 0440``.

Anything else is refused, naming the fix. A file the process cannot open (a
root-owned 0400 mount read by uid 10001) is refused with its owner and the
process's ids, and the same two ways out.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

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


SECRET_MOUNT_MODE: Final = 0o440
"""The one group-readable mode accepted: read-only for the owner and the group."""
_OTHERS_WRITE: Final = stat.S_IWGRP | stat.S_IWOTH


def read_private_file(path: Path) -> str:
    """The file's text, when ``mount_refusal`` accepts it for this process."""
    try:
        real = path.resolve(strict=True)
        descriptor = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
    except PermissionError as error:
        raise KeyringError(_unreadable(path)) from error
    except OSError as error:
        raise KeyringError(f"cannot read {path}: {error.strerror}") from error
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        refusal = mount_refusal(
            os.fstat(handle.fileno()), real.parent.stat(), os.geteuid(), os.getegid()
        )
        if refusal is not None:
            raise KeyringError(f"{path} {refusal}")
        return handle.read()


def mount_refusal(
    file: os.stat_result, directory: os.stat_result, uid: int, gid: int
) -> str | None:
    """Why a process with effective ``uid`` and ``gid`` must not trust this file, or None.

    ``directory`` is the one that holds the file itself (links followed): whoever
    may write it can swap the file.
    """
    mode = stat.S_IMODE(file.st_mode)
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    if mode != SECRET_MOUNT_MODE:
        return (
            f"has mode {mode:04o}: it must be readable by its owner only (chmod 600), "
            f"or be a read-only secret mount (mode 0440, group {gid})"
        )
    if file.st_gid != gid:
        return f"is readable by group {file.st_gid}, which is not this process's group ({gid})"
    if file.st_uid not in (0, uid):
        return f"belongs to uid {file.st_uid}, who may change it: it must be root's or uid {uid}'s"
    if directory.st_uid not in (0, uid) or directory.st_mode & _OTHERS_WRITE:
        return "lies in a directory others may write, so the file could be swapped"
    return None


def _unreadable(path: Path) -> str:
    uid, gid = os.geteuid(), os.getegid()
    try:
        info = path.stat()
        found = f"owner uid {info.st_uid}, group {info.st_gid}, mode {info.st_mode & 0o7777:04o}"
    except OSError as error:
        found = str(error.strerror)
    return (
        f"cannot read {path} ({found}) as uid {uid}, gid {gid}: make uid {uid} its owner "
        f"(mode 0400), or mount it mode 0440 with group {gid} "
        f"(Kubernetes: fsGroup {gid}, defaultMode 0440)"
    )


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
