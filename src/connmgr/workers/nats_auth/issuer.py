"""The callout's issuer: an account nkey whose public key the server config names.

Its seed is a secret: read from settings (``CONNMGR_NATS_AUTH_ISSUER_SEED`` or a
mode-0600 file), held in memory, never logged, never put in an error message.
"""

from __future__ import annotations

import secrets
from typing import cast

import nkeys  # type: ignore[import-untyped]

from connmgr.workers.keyring import KeyringError
from connmgr.workers.nats_auth.jwt import Signer


def issuer_from_seed(seed: str) -> Signer:
    """The key pair of an account seed (``SA…``); ``KeyringError`` for anything else."""
    try:
        pair = nkeys.from_seed(seed.strip().encode())
        public = bytes(pair.public_key)
    except Exception:  # nkeys raises bare errors of its own; never echo the seed
        raise KeyringError("the auth callout issuer seed is not an nkey seed") from None
    if not public.startswith(b"A"):
        raise KeyringError("the auth callout issuer must be an account nkey (seed SA…)")
    return cast(Signer, pair)


def new_issuer_seed() -> str:
    """A fresh account seed, for ``connmgr nats-auth keygen`` and tests."""
    seed: bytes = nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_ACCOUNT)
    return seed.decode()


def public_key(signer: Signer) -> str:
    return bytes(signer.public_key).decode()
