"""The encryptor pool is built from its settings: the batch size and how many batches it
handles at once (``CONNMGR_BATCH_SIZE``, ``CONNMGR_BATCHES_IN_FLIGHT``; README)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime import pool_startup
from connmgr.schemas.settings import Settings
from connmgr.workers.keyring import Keyring


class RecordedPool:
    """Stands in for ``EncryptorPool``: records how it was built, starts and runs nothing."""

    built: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **options: Any) -> None:
        _nc, _engine, _ports, batch_size = args
        RecordedPool.built.append({"batch_size": batch_size, **options})

    async def start(self) -> None:
        return None

    async def run(self, stop: asyncio.Event) -> None:
        return None


@pytest.mark.parametrize(("given", "in_flight"), [({}, 2), ({"batches_in_flight": 1}, 1)])
async def test_the_encryptor_handles_as_many_batches_at_once_as_its_settings_say(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, int], in_flight: int
) -> None:
    RecordedPool.built = []
    monkeypatch.setattr(pool_startup, "EncryptorPool", RecordedPool)
    resources = pool_startup.Resources(
        cast(NatsClient, None), cast(AsyncEngine, None), Keyring.generate()
    )

    await pool_startup.start_pool("encryptor", Settings(batch_size=64, **given), resources)

    assert RecordedPool.built == [{"batch_size": 64, "in_flight": in_flight}]


def test_batches_in_flight_is_bounded() -> None:
    with pytest.raises(ValueError, match="batches_in_flight"):
        Settings(batches_in_flight=0)
    with pytest.raises(ValueError, match="batches_in_flight"):
        Settings(batches_in_flight=9)
