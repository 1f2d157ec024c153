"""An encryptor batch on a fresh database of each backend, fed Inbound messages directly."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.workers.encryptor.batch import EncryptorBatch
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring
from support.encryptor import Encryptor


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def encryptor(engine: AsyncEngine, keyring: Keyring) -> Encryptor:
    ports = EncryptorPorts(keyring=keyring, allow_plaintext=False)
    return Encryptor(engine, keyring, EncryptorBatch(engine, ports, max_deliver=5))
