"""Unique names decided in memory (``encryptor.names``), without a database: the exact
refusal, who holds a name as a batch goes, and the planner refusing on it.
``test_unique_names.py`` checks the same through both databases and two replicas."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from connmgr.schemas.command_parsing import parse_encryptor_command
from connmgr.schemas.commands import EncryptorCommand
from connmgr.schemas.outcomes import FieldError, Reason, Rejection
from connmgr.storage.projection import ConnectionState
from connmgr.workers.encryptor.decisions import EncryptorPorts, name_taken
from connmgr.workers.encryptor.names import TenantNames, wanted_name
from connmgr.workers.encryptor.planner import Inbound, Planner
from connmgr.workers.keyring import Keyring
from support.commands import TENANT, command, encode, subject_of

MOMENT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
TCP_CONFIG = {"ca_pem": None, "server_name": None, "host": "h.test", "port": 1, "tls": False,
              "expect_banner": None}  # fmt: skip
A, B = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


def state(connection_id: str, name: str, *, deleted: bool = False) -> ConnectionState:
    return ConnectionState(
        id=connection_id, tenant=TENANT, name=name, kind="tcp", template=None,
        config=TCP_CONFIG, auth={"method": "none"}, secrets=None, health_check={}, tags=(),
        description="", status="unknown", version=1, deleted=deleted,
        created_at=MOMENT, updated_at=MOMENT,
    )  # fmt: skip


def parsed(verb: str, connection_id: str, payload: dict[str, object]) -> EncryptorCommand:
    result = parse_encryptor_command(encode(command(verb, connection_id, payload)))
    assert not isinstance(result, Rejection), result
    return result


def create(connection_id: str, name: str) -> EncryptorCommand:
    return parsed("create", connection_id, {"name": name, "kind": "tcp",
                                            "config": {"host": "h.test", "port": 1}})  # fmt: skip


def test_the_refusal_names_the_reason_the_field_and_no_value() -> None:
    assert name_taken() == Rejection(
        Reason.NAME_TAKEN,
        "another connection of this tenant has this name; names are unique per tenant",
        [FieldError(field="payload.name", message="is taken")],
    )
    assert Reason.NAME_TAKEN.value == "name_taken"


def test_only_a_create_or_an_update_naming_a_name_asks_for_one() -> None:
    assert wanted_name(create(A, "db")) == (TENANT, "db")
    assert wanted_name(parsed("update", A, {"name": "db2"})) == (TENANT, "db2")
    assert wanted_name(parsed("update", A, {"description": "x"})) is None
    assert wanted_name(parsed("delete", A, {})) is None


def test_a_name_held_by_another_connection_is_refused_and_by_itself_is_not() -> None:
    names = TenantNames({(TENANT, "db"): frozenset({A})})

    assert names.clash(create(B, "db"), None) == name_taken()
    assert names.clash(create(A, "db"), None) is None
    assert names.clash(create(B, "other"), None) is None
    assert names.clash(parsed("update", B, {"name": "db"}), state(B, "old")) == name_taken()


def test_an_update_keeping_its_name_passes_among_older_duplicates() -> None:
    names = TenantNames({(TENANT, "db"): frozenset({A, B})})

    assert names.clash(parsed("update", B, {"name": "db"}), state(B, "db")) is None
    tombstone = state(B, "db", deleted=True)
    assert names.clash(parsed("update", B, {"name": "db"}), tombstone) == name_taken()


def test_a_rename_or_a_delete_frees_the_name_and_a_create_takes_it() -> None:
    names = TenantNames({(TENANT, "db"): frozenset({A})})

    names.moved(state(A, "db"), state(A, "db2"))
    assert names.clash(create(B, "db"), None) is None
    assert names.clash(create(B, "db2"), None) == name_taken()
    names.moved(state(A, "db2"), replace(state(A, "db2"), deleted=True))
    assert names.clash(create(B, "db2"), None) is None
    names.moved(None, state(B, "db3"))
    assert names.clash(create(A, "db3"), None) == name_taken()
    names.moved(state(B, "db3", deleted=True), None)  # a tombstone held nothing
    assert names.clash(create(A, "db3"), None) == name_taken()


async def test_the_planner_refuses_a_taken_name_and_plans_no_change() -> None:
    ports = EncryptorPorts(keyring=Keyring.generate(), allow_plaintext=False)
    names = TenantNames({(TENANT, "db"): frozenset({A})})
    planner = Planner(ports, 3, {}, {}, MOMENT, names=names)
    tcp = {"name": "db", "kind": "tcp", "config": {"host": "h.test", "port": 1}}
    document = command("create", str(uuid.uuid4()), tcp)
    item = Inbound(encode(document), subject_of(document), None, 1, 1)

    handled = await planner.decide(item, item.admission())

    assert handled.outcome is not None
    assert (handled.outcome.reason, handled.outcome.events) == ("name_taken", ["CommandRejected"])
    assert handled.outcome.errors == [FieldError(field="payload.name", message="is taken")]
    assert planner.touched_states() == {}
    assert [event.type for event in planner.plan.events] == ["CommandRejected"]


async def test_the_planner_follows_its_own_batch_a_create_takes_a_rename_frees() -> None:
    ports = EncryptorPorts(keyring=Keyring.generate(), allow_plaintext=False)
    planner = Planner(ports, 3, {}, {}, MOMENT)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    tcp = {"kind": "tcp", "config": {"host": "h.test", "port": 1}}

    async def reason(document: dict[str, object]) -> str | None:
        item = Inbound(encode(document), subject_of(document), None, 1, 1)
        handled = await planner.decide(item, item.admission())
        assert handled.outcome is not None
        return handled.outcome.reason

    assert await reason(command("create", first, {"name": "db", **tcp})) is None
    assert await reason(command("create", second, {"name": "db", **tcp})) == "name_taken"
    assert await reason(command("update", first, {"name": "db2"})) is None
    assert await reason(command("create", second, {"name": "db", **tcp})) is None


async def test_the_planner_lets_an_update_keep_a_name_older_duplicates_share() -> None:
    ports = EncryptorPorts(keyring=Keyring.generate(), allow_plaintext=False)
    names = TenantNames({(TENANT, "db"): frozenset({A, B})})
    planner = Planner(ports, 3, {}, {B: state(B, "db")}, MOMENT, names=names)
    document = command("update", B, {"name": "db", "description": "still db"})
    item = Inbound(encode(document), subject_of(document), None, 1, 1)

    handled = await planner.decide(item, item.admission())

    assert handled.outcome is not None
    assert (handled.outcome.outcome, handled.outcome.reason) == ("accepted", None)
