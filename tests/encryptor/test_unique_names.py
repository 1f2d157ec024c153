"""Names are unique among a tenant's live connections (``encryptor.names``): a create or a
rename onto a taken name is ``name_taken``; older duplicates are reported, and stay
changeable. Each case is run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.connection_names import DuplicateName, duplicate_names
from connmgr.storage.database import write_transaction
from connmgr.storage.tables import connections
from connmgr.workers.encryptor.batch import EncryptorBatch, Inbound
from connmgr.workers.encryptor.handlers import EncryptorPorts
from support.commands import command, encode, subject_of
from support.encryptor import Encryptor
from support.seeds import Seed


def _create(name: str, tenant: str = "acme", connection_id: str | None = None) -> dict[str, Any]:
    payload = {"name": name, "kind": "tcp", "config": {"host": "svc.internal", "port": 7000}}
    return command("create", connection_id or str(uuid.uuid4()), payload, tenant=tenant)


def _rename(connection_id: str, name: str, **payload: Any) -> dict[str, Any]:
    return command("update", connection_id, {"name": name, **payload})


def _name_taken(outcome: CommandOutcome) -> bool:
    fields = [error.field for error in outcome.errors]
    return (outcome.outcome, outcome.reason, fields) == ("rejected", "name_taken", ["payload.name"])


async def test_a_second_connection_of_the_tenant_cannot_take_a_name(encryptor: Encryptor) -> None:
    first = await encryptor.one(_create("orders-db"))
    assert first.outcome == "accepted"

    second = await encryptor.one(_create("orders-db"))

    assert _name_taken(second)
    assert await encryptor.state(str(second.connection_id)) is None


async def test_two_creates_of_one_name_in_one_batch_give_it_to_the_first(
    encryptor: Encryptor,
) -> None:
    handled = await encryptor.run(_create("cache"), _create("cache"))

    outcomes = [h.outcome for h in handled]
    assert outcomes[0] is not None
    assert outcomes[0].outcome == "accepted"
    assert outcomes[1] is not None
    assert _name_taken(outcomes[1])


async def test_another_tenant_uses_the_same_name_freely(encryptor: Encryptor) -> None:
    assert (await encryptor.one(_create("orders-db"))).outcome == "accepted"
    other = _create("orders-db", tenant="globex")

    outcome = await encryptor.one(other, subject=subject_of(other, "globex"))

    assert outcome.outcome == "accepted"


async def test_a_rename_moves_the_name_and_frees_the_old_one(encryptor: Encryptor) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await encryptor.run(_create("alpha", connection_id=a), _create("beta", connection_id=b))

    assert _name_taken(await encryptor.one(_rename(b, "alpha", expected_version=1)))
    assert (await encryptor.one(_rename(a, "gamma"))).outcome == "accepted"
    assert (await encryptor.one(_rename(b, "alpha"))).outcome == "accepted"
    assert _name_taken(await encryptor.one(_create("gamma")))


async def test_a_delete_frees_the_name(encryptor: Encryptor) -> None:
    connection_id = str(uuid.uuid4())
    await encryptor.one(_create("orders-db", connection_id=connection_id))
    assert _name_taken(await encryptor.one(_create("orders-db")))

    await encryptor.one(command("delete", connection_id, {}))

    assert (await encryptor.one(_create("orders-db"))).outcome == "accepted"


async def test_older_duplicates_are_reported_and_can_still_change(
    encryptor: Encryptor, seed: Seed
) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await encryptor.run(_create("legacy", connection_id=a), _create("legacy-b", connection_id=b))
    await seed.connection("legacy", tenant="globex", secret_fields=None)
    await seed.connection("legacy", secret_fields=None, deleted=True)
    async with write_transaction(encryptor.engine) as connection:  # as before the rule
        await connection.execute(
            update(connections).where(connections.c.id == b).values(name="legacy")
        )

    async with encryptor.engine.connect() as connection:
        found = await duplicate_names(connection)
    assert found == [DuplicateName("acme", "legacy", tuple(sorted((a, b))))]

    kept = await encryptor.one(_rename(a, "legacy", description="still mine"))
    assert (kept.outcome, kept.reason, kept.message) == ("accepted", None, None)
    assert (await encryptor.one(_rename(b, "legacy-2"))).outcome == "accepted"
    async with encryptor.engine.connect() as connection:
        assert await duplicate_names(connection) == []


async def test_two_replicas_creating_one_name_at_once_give_it_once(
    engine: AsyncEngine, encryptor: Encryptor
) -> None:
    ports = EncryptorPorts(keyring=encryptor.keyring, allow_plaintext=False)
    replicas = [EncryptorBatch(engine, ports, max_deliver=5) for _ in range(2)]

    def inbound(document: dict[str, Any], sequence: int) -> Inbound:
        return Inbound(encode(document), subject_of(document), None, sequence, 1)

    results = await asyncio.gather(
        *(
            replica.process([inbound(_create("shared"), 900 + n)])
            for n, replica in enumerate(replicas)
        )
    )

    outcomes = [handled.outcome for (handled,) in results]
    assert sorted(o.outcome for o in outcomes if o is not None) == ["accepted", "rejected"]
    assert sum(_name_taken(o) for o in outcomes if o is not None) == 1
