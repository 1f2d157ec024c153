"""The prober's batched target reads and its cache of prepared targets, on both backends.

Connections are made by the real encryptor batch (no NATS); the prober's
lookups count their statements and decryptions through the modules they use.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import create_engine, migrate, write_transaction
from connmgr.storage.probe_states import save_probe_state
from connmgr.workers.checks import targets as check_targets
from connmgr.workers.encryptor.batch import EncryptorBatch
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring
from connmgr.workers.prober import targets as targets_module
from connmgr.workers.prober.probe_state import ProbeState
from connmgr.workers.prober.targets import CheckTargets
from support.commands import TENANT, command, postgres_payload, sealed
from support.encryptor import Encryptor


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def encryptor(engine: AsyncEngine) -> Encryptor:
    keyring = Keyring.generate()
    ports = EncryptorPorts(keyring=keyring, allow_plaintext=False)
    return Encryptor(engine, keyring, EncryptorBatch(engine, ports, max_deliver=5))


@pytest.fixture
async def targets(encryptor: Encryptor) -> AsyncIterator[CheckTargets]:
    # A wide window: lookups asked in one moment must share a statement even when a
    # loaded machine spreads their arrival past the 5 ms default.
    targets = CheckTargets(encryptor.engine, encryptor.keyring, max_delay_s=0.1)
    yield targets
    await targets.close()


class Counted:
    """Wraps a function of a module (the prober's targets by default), counts its calls."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, name: str, module: ModuleType = targets_module
    ) -> None:
        self.calls = 0
        original = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


async def create(encryptor: Encryptor, password: str = "first") -> str:
    connection_id = str(uuid.uuid4())
    key = encryptor.keyring.seal_public_info()
    secrets = sealed({"password": password}, key, connection_id)
    payload = postgres_payload(name=f"db-{connection_id}", secrets=secrets)  # unique names
    outcome = await encryptor.one(command("create", connection_id, payload))
    assert outcome.outcome == "accepted", outcome
    return connection_id


async def change(encryptor: Encryptor, verb: str, connection_id: str, payload: Any) -> None:
    outcome = await encryptor.one(command(verb, connection_id, payload))
    assert outcome.outcome == "accepted", outcome


async def password_of(targets: CheckTargets, connection_id: str) -> str:
    lookup = await targets.get(TENANT, connection_id)
    assert lookup.prepared is not None
    return lookup.prepared.target.secrets["password"]


async def test_secrets_are_decrypted_once_per_version(
    encryptor: Encryptor, targets: CheckTargets, monkeypatch: pytest.MonkeyPatch
) -> None:
    decryptions = Counted(monkeypatch, "decrypt_secrets", check_targets)
    connection_id = await create(encryptor, "first")
    for _ in range(3):
        assert await password_of(targets, connection_id) == "first"
    assert decryptions.calls == 1
    key = encryptor.keyring.seal_public_info()
    secrets = sealed({"password": "second"}, key, connection_id)
    await change(encryptor, "rotate", connection_id, {"secrets": secrets})
    assert await password_of(targets, connection_id) == "second"
    assert await password_of(targets, connection_id) == "second"
    assert decryptions.calls == 2


async def test_a_new_version_replaces_the_cached_target(
    encryptor: Encryptor, targets: CheckTargets
) -> None:
    connection_id = await create(encryptor)
    first = (await targets.get(TENANT, connection_id)).prepared
    assert first is not None
    assert first.target.timeout_s == 5.0
    await change(encryptor, "update", connection_id, {"health_check": {"timeout_s": 9}})
    second = (await targets.get(TENANT, connection_id)).prepared
    assert second is not None
    assert (second.tested_version, second.target.timeout_s) == (2, 9.0)
    assert len(targets) == 1


async def test_a_deleted_connection_is_dropped_and_has_no_target(
    encryptor: Encryptor, targets: CheckTargets
) -> None:
    connection_id = await create(encryptor)
    assert (await targets.get(TENANT, connection_id)).prepared is not None
    await change(encryptor, "delete", connection_id, {})
    assert (await targets.get(TENANT, connection_id)).prepared is None
    assert len(targets) == 0
    assert (await targets.get(TENANT, str(uuid.uuid4()))).prepared is None


async def test_another_tenants_connection_is_not_opened(
    encryptor: Encryptor, targets: CheckTargets, monkeypatch: pytest.MonkeyPatch
) -> None:
    decryptions = Counted(monkeypatch, "decrypt_secrets", check_targets)
    connection_id = await create(encryptor)
    assert (await targets.get("other", connection_id)).prepared is None
    assert decryptions.calls == 0


async def test_lookups_asked_together_share_one_statement(
    encryptor: Encryptor, targets: CheckTargets, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [await create(encryptor) for _ in range(5)]
    heads, sources = (
        Counted(monkeypatch, "read_check_heads"),
        Counted(monkeypatch, "load_check_sources"),
    )
    lookups = await asyncio.gather(*(targets.get(TENANT, cid) for cid in ids * 4))
    assert all(lookup.prepared is not None for lookup in lookups)
    assert [
        lookup.prepared.target.connection_id for lookup in lookups if lookup.prepared
    ] == ids * 4
    assert (heads.calls, sources.calls) == (1, 1)
    await asyncio.gather(*(targets.get(TENANT, cid) for cid in ids))
    assert (heads.calls, sources.calls) == (2, 1)


async def test_suspension_is_read_with_every_lookup(
    encryptor: Encryptor, targets: CheckTargets
) -> None:
    connection_id = await create(encryptor)
    assert not (await targets.get(TENANT, connection_id)).suspended
    row = ProbeState(connection_id=connection_id, tenant=TENANT, suspended=True)
    async with write_transaction(encryptor.engine) as connection:
        await save_probe_state(connection, row.to_row(updated_at=datetime.now(UTC)), existed=False)
    assert (await targets.get(TENANT, connection_id)).suspended


async def test_the_cache_keeps_the_most_recently_used(encryptor: Encryptor) -> None:
    targets = CheckTargets(encryptor.engine, encryptor.keyring, max_cached=2)
    try:
        first, second, third = [await create(encryptor) for _ in range(3)]
        for connection_id in (first, second, first, third):
            assert (await targets.get(TENANT, connection_id)).prepared is not None
        assert len(targets) == 2
        assert set(targets._cache) == {first, third}
    finally:
        await targets.close()


async def test_a_full_cache_never_answers_a_live_connection_as_missing(
    encryptor: Encryptor,
) -> None:
    """A cached target asked in the same batch as new ones is not evicted by them
    before it is answered: an answer of "no connection" purges its schedule for good."""
    targets = CheckTargets(encryptor.engine, encryptor.keyring, max_cached=2, max_delay_s=0.1)
    try:
        cached, newer, *fresh = [await create(encryptor) for _ in range(4)]
        for connection_id in (cached, newer):
            assert (await targets.get(TENANT, connection_id)).prepared is not None
        asked = [cached, *fresh]  # ``cached`` is the least recently used
        lookups = await asyncio.gather(*(targets.get(TENANT, cid) for cid in asked))
        assert [lookup.prepared and lookup.prepared.target.connection_id for lookup in lookups] == (
            asked
        )
        assert len(targets) == 2
    finally:
        await targets.close()
