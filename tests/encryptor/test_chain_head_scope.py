"""The encryptor holds the chain head for its writes only, and never writes a stale plan.

PostgreSQL only: SQLite has one writer at a time, so nothing can commit while a
batch decides. Another writer commits in the middle of a batch, right after the
batch has read its rows (a hook on ``load_connections``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from connmgr.storage.database import create_engine, migrate
from connmgr.workers.encryptor import batch as batch_module
from connmgr.workers.encryptor.batch import EncryptorBatch
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.keyring import Keyring
from support.commands import command, postgres_payload
from support.encryptor import Encryptor
from support.fixture_types import NewPostgresUrl

CONCURRENT_WRITE_S = 10.0


@pytest.fixture
async def pg_encryptor(fresh_pg_url: NewPostgresUrl) -> AsyncIterator[Encryptor]:
    engine = create_engine(await fresh_pg_url())
    await migrate(engine)
    keyring = Keyring.generate()
    ports = EncryptorPorts(keyring=keyring, allow_plaintext=False)
    yield Encryptor(engine, keyring, EncryptorBatch(engine, ports, max_deliver=5))
    await engine.dispose()


def between_read_and_write(
    monkeypatch: pytest.MonkeyPatch, write: Callable[[], Awaitable[Any]]
) -> list[Any]:
    """Run ``write`` (in its own transaction) once, after the next batch read its rows."""
    real = batch_module.load_connections
    done: list[Any] = []

    async def read_then_write(connection, connection_ids):  # type: ignore[no-untyped-def]
        states = await real(connection, connection_ids)
        if not done:
            done.append(None)
            done[0] = await asyncio.wait_for(write(), CONCURRENT_WRITE_S)
        return states

    monkeypatch.setattr(batch_module, "load_connections", read_then_write)
    return done


def no_secrets(**overrides: Any) -> dict[str, Any]:
    return postgres_payload(auth={"method": "none"}, **overrides)


async def test_another_writer_appends_while_a_batch_decides(
    pg_encryptor: Encryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Encryptor(pg_encryptor.engine, pg_encryptor.keyring, pg_encryptor.batch)
    elsewhere = command("create", str(uuid.uuid4()), no_secrets(name="elsewhere"))
    written = between_read_and_write(monkeypatch, lambda: other.one(elsewhere))

    outcome = await pg_encryptor.one(command("create", str(uuid.uuid4()), no_secrets()))

    assert outcome.outcome == "accepted"
    assert written[0].outcome == "accepted"  # it did not wait for the batch to commit


async def test_a_plan_made_on_a_row_that_moved_is_made_again_on_the_committed_row(
    pg_encryptor: Encryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection_id = str(uuid.uuid4())
    created = await pg_encryptor.one(command("create", connection_id, no_secrets()))
    assert created.version == 1
    first = command("update", connection_id, {"expected_version": 1, "name": "first"})
    other = Encryptor(pg_encryptor.engine, pg_encryptor.keyring, pg_encryptor.batch)
    between_read_and_write(monkeypatch, lambda: other.one(first))

    # Read at version 1, this one would be a version_conflict; at 2 (committed) it applies.
    second = await pg_encryptor.one(
        command("update", connection_id, {"expected_version": 2, "name": "second"})
    )

    assert (second.outcome, second.version) == ("accepted", 3)
    state = await pg_encryptor.state(connection_id)
    assert state is not None
    assert (state.name, state.version) == ("second", 3)


async def test_a_plan_made_before_its_connection_existed_is_made_again_once_it_does(
    pg_encryptor: Encryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What two batches in flight meet (``ConsumerOptions.in_flight``): an update planned
    while the batch that creates its connection has not committed yet."""
    connection_id = str(uuid.uuid4())
    other = Encryptor(pg_encryptor.engine, pg_encryptor.keyring, pg_encryptor.batch)
    created = between_read_and_write(
        monkeypatch, lambda: other.one(command("create", connection_id, no_secrets()))
    )

    # Read before the create committed, this one would be not_found; after it, it applies.
    updated = await pg_encryptor.one(
        command("update", connection_id, {"expected_version": 1, "name": "renamed"})
    )

    assert created[0].outcome == "accepted"
    assert (updated.outcome, updated.version) == ("accepted", 2)
    state = await pg_encryptor.state(connection_id)
    assert state is not None
    assert (state.name, state.version) == ("renamed", 2)
