"""``connmgr keys init [--out PATH | --print]``: a new key ring, the first step of a deployment.

``--out PATH`` (default: ``CONNMGR_KEYRING_FILE``) creates the file with mode
0600 and refuses an existing one (exit 1): a key ring already in use opens the
stored data keys, and overwriting it would make them unreadable. The file is
created exclusively (``O_EXCL``, no symlink followed), so no race replaces a
file that appeared meanwhile, and it is never readable by others, not even for
an instant. It then prints the key ids and the public seal key, never a key.

``--print`` writes the ring's JSON to standard output and nothing else, for a
secret store (``connmgr keys init --print | kubectl create secret generic …
--from-file=keyring.json=/dev/stdin``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Final

from connmgr.schemas.settings import Settings
from connmgr.workers.keyring import Keyring

EXIT_OK: Final = 0
EXIT_EXISTS: Final = 1
EXIT_USAGE: Final = 2


def create_private_file(path: Path, content: str) -> None:
    """Create ``path`` (mode 0600) with ``content``; ``FileExistsError`` if it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            descriptor = -1
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        if descriptor >= 0:
            os.close(descriptor)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"connmgr: keys init: {message}\n")
    return code


async def run_keys_init(settings: Settings, args: argparse.Namespace) -> int:
    ring = Keyring.generate()
    if args.print:
        sys.stdout.write(ring.to_json() + "\n")
        return EXIT_OK
    path: Path | None = args.out or settings.keyring_file
    if path is None:
        return _fail("give --out PATH or --print (or set CONNMGR_KEYRING_FILE)", EXIT_USAGE)
    try:
        create_private_file(path, ring.to_json())
    except FileExistsError:
        return _fail(f"{path} exists; a key ring is never overwritten", EXIT_EXISTS)
    except OSError as error:
        return _fail(f"cannot create {path}: {error.strerror}", EXIT_EXISTS)
    seal = ring.seal_public_info()
    print(f"key ring written: {path} (mode 0600)")
    print(f"primary key-encryption key: {ring.primary}; seal key: {seal.key_id}")
    return EXIT_OK
