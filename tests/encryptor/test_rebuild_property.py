"""Property: whatever commands arrive, rebuilding the projection from the log
gives exactly the live table (rebuild == incremental), and versions stay contiguous (I3).

It compares the fold with itself, so it says nothing about whether the fold is right:
a fold that ignored a field would ignore it in both. ``test_fold_by_command.py`` checks
the fold against each command, with the expected states written in the test."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connmgr.storage.projection_store import load_all, rebuild
from connmgr.storage.tables import events
from support.commands import command, postgres_payload, sealed
from support.encryptor import Encryptor

IDS = [str(uuid.UUID(int=n)) for n in range(1, 5)]

operation = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(IDS), st.booleans()),
    st.tuples(st.just("rename"), st.sampled_from(IDS), st.text(min_size=0, max_size=12)),
    st.tuples(st.just("retag"), st.sampled_from(IDS), st.lists(st.sampled_from(["a", "b", "c"]))),
    st.tuples(st.just("move"), st.sampled_from(IDS), st.integers(min_value=-1, max_value=70000)),
    st.tuples(st.just("rotate"), st.sampled_from(IDS), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(IDS), st.none()),
)


def to_command(op: tuple[str, str, Any], encryptor: Encryptor) -> dict[str, Any]:
    verb, connection_id, argument = op
    key = encryptor.keyring.seal_public_info()
    secrets = sealed({"password": "pw"}, key, connection_id)
    match verb:
        case "create":
            return command(
                "create", connection_id, postgres_payload(secrets=secrets if argument else None)
            )
        case "rename":
            return command("update", connection_id, {"name": argument})
        case "retag":
            return command("update", connection_id, {"tags": argument})
        case "move":
            config = {"host": "db.internal", "port": argument, "database": "orders"}
            return command("update", connection_id, {"config": config, "secrets": secrets})
        case "rotate":
            return command(
                "rotate",
                connection_id,
                {"secrets": secrets, "expected_version": 2 if argument else None},
            )
        case _:
            return command("delete", connection_id, {})


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(operation, min_size=1, max_size=6), min_size=1, max_size=4))
async def test_rebuild_equals_the_live_projection(
    encryptor: Encryptor, batches: list[list[tuple[str, str, Any]]]
) -> None:
    for batch in batches:
        results = await encryptor.run(*(to_command(op, encryptor) for op in batch))
        assert all(result.outcome is not None for result in results)
    async with encryptor.engine.connect() as connection:
        live = await load_all(connection)
    await rebuild(encryptor.engine)
    async with encryptor.engine.connect() as connection:
        rebuilt = await load_all(connection)
        versions = (
            await connection.execute(
                select(events.c.stream_id, events.c.version).order_by(events.c.position)
            )
        ).all()
    assert rebuilt == live
    per_stream: dict[str, list[int]] = {}
    for stream_id, version in versions:
        per_stream.setdefault(stream_id, []).append(version)
    assert all(found == list(range(1, len(found) + 1)) for found in per_stream.values())
