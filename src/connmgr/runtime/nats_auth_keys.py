"""``connmgr nats-auth keygen --seed-file PATH``: the auth callout's issuer key.

Writes a new account nkey seed to ``PATH`` (mode 0600; an existing file is never
overwritten) and prints only its public key, which goes into the server's
configuration as ``CONNMGR_NATS_AUTH_ISSUER``. The seed is read by
``connmgr worker nats-auth`` from ``CONNMGR_NATS_AUTH_ISSUER_SEED_FILE``.
"""

from __future__ import annotations

import argparse
import sys

from connmgr.runtime.keyfiles import write_private_file
from connmgr.schemas.settings import Settings
from connmgr.workers.nats_auth.issuer import issuer_from_seed, new_issuer_seed, public_key

EXIT_OK = 0
EXIT_EXISTS = 1


async def run_keygen(_settings: Settings, args: argparse.Namespace) -> int:
    if args.seed_file.exists():
        sys.stderr.write(f"connmgr: {args.seed_file} exists; not overwriting a seed\n")
        return EXIT_EXISTS
    seed = new_issuer_seed()
    write_private_file(args.seed_file, seed + "\n")
    print(public_key(issuer_from_seed(seed)))
    return EXIT_OK
