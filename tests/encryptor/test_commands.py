"""What the encryptor does with each command, good and bad, on both backends."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from connmgr.storage.audit import verify_chain
from connmgr.storage.data_keys import get_data_key
from connmgr.storage.tables import events, handled_commands
from connmgr.workers.encryptor import batch as batch_module
from connmgr.workers.secret_box import decrypt_secrets
from support.commands import TENANT, command, postgres_payload, sealed
from support.encryptor import Encryptor
from support.haystacks import database_text
from support.leaks import LeakChannels

PASSWORD = "hunter2-Sup3r-Secret"


def new_id() -> str:
    return str(uuid.uuid4())


async def create(
    encryptor: Encryptor, connection_id: str, **overrides: object
) -> dict[str, object]:
    key = encryptor.keyring.seal_public_info()
    payload = postgres_payload(secrets=sealed({"password": PASSWORD}, key, connection_id))
    payload.update(overrides)
    document = command("create", connection_id, payload)
    outcome = await encryptor.one(document)
    assert outcome.outcome == "accepted", outcome
    return document


async def stored_password(encryptor: Encryptor, connection_id: str) -> str:
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.secrets is not None
    async with encryptor.engine.connect() as connection:
        wrapped = await get_data_key(connection, connection_id)
    assert wrapped is not None
    data_key = encryptor.keyring.unwrap(wrapped, connection_id)
    return decrypt_secrets(data_key, state.secrets, connection_id)["password"]


async def event_count(encryptor: Encryptor) -> int:
    async with encryptor.engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(events))).scalar_one()
        )


async def test_create_stores_the_connection_with_only_ciphertext(
    encryptor: Encryptor, leak_channels: LeakChannels
) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    state = await encryptor.state(connection_id)
    assert state is not None
    assert (state.name, state.kind, state.tenant, state.version) == (
        "orders-db",
        "postgres",
        TENANT,
        1,
    )
    assert state.secrets is not None
    assert state.secrets.field_names == ["password"]
    assert await stored_password(encryptor, connection_id) == PASSWORD
    leak_channels.secrets(PASSWORD)
    leak_channels.add("state", state)
    for table, rows in (await database_text(encryptor.engine)).items():
        leak_channels.add(table, rows)
    leak_channels.assert_clean()


async def test_the_same_command_twice_has_one_effect(encryptor: Encryptor) -> None:
    connection_id = new_id()
    document = await create(encryptor, connection_id)
    again = await encryptor.run(document)
    assert again[0].duplicate
    assert again[0].outcome is not None
    assert again[0].outcome.outcome == "accepted"
    assert await event_count(encryptor) == 1


async def test_a_batch_with_a_bad_command_still_applies_the_good_ones(encryptor: Encryptor) -> None:
    good = command("create", new_id(), postgres_payload(auth={"method": "none"}))
    results = await encryptor.run(b"\x00not json", good)
    assert [r.outcome.outcome for r in results if r.outcome] == ["rejected", "accepted"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d["payload"]["config"].update(port="5432"), "invalid_config"),
        (lambda d: d["payload"]["config"].update(port=70000), "invalid_config"),
        (lambda d: d["payload"]["config"].update(port=0), "invalid_config"),
        (lambda d: d["payload"]["config"].update(dsn="postgres://x"), "invalid_config"),
        (lambda d: d["payload"]["config"].update(host="/var/run/postgresql"), "invalid_config"),
        (lambda d: d["payload"].update(surprise=True), "invalid_command"),
        (lambda d: d["payload"].update(kind="oracle"), "unknown_kind"),
        (lambda d: d["payload"].update(name="x" * 201), "invalid_command"),
        (
            lambda d: d["payload"].update(secrets={"plaintext": {"password": PASSWORD}}),
            "plaintext_not_allowed",
        ),
        (lambda d: d["payload"].update(secrets=None), "secrets_required"),
        (lambda d: d["payload"].update(auth={"method": "jwt"}), "auth_method_not_allowed"),
        (lambda d: d["actor"].update(tenant="other"), "tenant_mismatch"),
        (lambda d: d["payload"].update(description="x" * 70000), "too_large"),
    ],
    ids=[
        "port-as-string",
        "port-too-big",
        "port-zero",
        "dsn-smuggled",
        "socket-path",
        "unknown-field",
        "unknown-kind",
        "name-too-long",
        "plaintext",
        "no-secrets",
        "auth-for-other-kinds",
        "tenant-mismatch",
        "oversized",
    ],
)
async def test_bad_commands_are_rejected_with_a_reason(
    encryptor: Encryptor, mutate, reason: str, leak_channels: LeakChannels
) -> None:  # type: ignore[no-untyped-def]
    connection_id = new_id()
    key = encryptor.keyring.seal_public_info()
    document = command(
        "create",
        connection_id,
        postgres_payload(secrets=sealed({"password": PASSWORD}, key, connection_id)),
    )
    mutate(document)
    outcome = await encryptor.one(document)
    assert (outcome.outcome, outcome.reason) == ("rejected", reason)
    leak_channels.secrets(PASSWORD)
    leak_channels.add("outcome", outcome.model_dump_json())
    leak_channels.assert_clean()
    assert await encryptor.state(connection_id) is None
    async with encryptor.engine.connect() as connection:
        rejected = (await connection.execute(select(events.c.type, events.c.data))).all()
    assert [row.type for row in rejected] == ["CommandRejected"]
    assert rejected[0].data["reason"] == reason


async def test_a_blob_sealed_for_another_connection_is_refused(encryptor: Encryptor) -> None:
    connection_id = new_id()
    key = encryptor.keyring.seal_public_info()
    blob = sealed({"password": PASSWORD}, key, new_id())
    outcome = await encryptor.one(command("create", connection_id, postgres_payload(secrets=blob)))
    assert outcome.reason == "invalid_sealed_secrets"


async def test_a_stale_expected_version_is_rejected(encryptor: Encryptor) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    outcome = await encryptor.one(
        command("update", connection_id, {"expected_version": 7, "name": "x"})
    )
    assert outcome.reason == "version_conflict"
    fresh = await encryptor.one(
        command("update", connection_id, {"expected_version": 1, "name": "x"})
    )
    assert (fresh.outcome, fresh.version) == ("accepted", 2)


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"host": "evil.example", "port": 5432, "database": "orders"}},
        {"config": {"host": "db.internal", "port": 6432, "database": "orders"}},
        {"auth": {"method": "basic", "username": "root"}},
        {"kind": "mysql", "config": {"host": "db.internal", "port": 5432}},
    ],
    ids=["host", "port", "username", "kind"],
)
async def test_a_stored_secret_is_never_sent_to_a_changed_target(
    encryptor: Encryptor, change: dict[str, object]
) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    outcome = await encryptor.one(command("update", connection_id, change))
    assert outcome.reason == "secrets_required"
    key = encryptor.keyring.seal_public_info()
    with_secrets = {**change, "secrets": sealed({"password": "new-one"}, key, connection_id)}
    assert (
        await encryptor.one(command("update", connection_id, with_secrets))
    ).outcome == "accepted"
    assert await stored_password(encryptor, connection_id) == "new-one"


async def test_an_update_that_changes_nothing_appends_nothing(encryptor: Encryptor) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    outcome = await encryptor.one(command("update", connection_id, {"name": "orders-db"}))
    assert (outcome.outcome, outcome.events, outcome.version) == ("accepted", [], 1)


async def test_rotate_replaces_the_secret_and_the_data_key(encryptor: Encryptor) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    async with encryptor.engine.connect() as connection:
        before = await get_data_key(connection, connection_id)
    key = encryptor.keyring.seal_public_info()
    outcome = await encryptor.one(
        command(
            "rotate",
            connection_id,
            {"secrets": sealed({"password": "rotated"}, key, connection_id)},
        )
    )
    assert outcome.events == ["SecretsRotated"]
    assert await stored_password(encryptor, connection_id) == "rotated"
    async with encryptor.engine.connect() as connection:
        assert await get_data_key(connection, connection_id) != before
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.secrets_version == 2


async def test_delete_shreds_the_data_key_and_keeps_the_history(encryptor: Encryptor) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    outcome = await encryptor.one(command("delete", connection_id, {}))
    assert outcome.events == ["ConnectionDeleted"]
    async with encryptor.engine.connect() as connection:
        assert await get_data_key(connection, connection_id) is None
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.deleted
    assert (await encryptor.one(command("delete", connection_id, {}))).reason == "not_found"
    assert (await verify_chain(encryptor.engine)).events_checked == 3


async def test_another_tenants_connection_is_not_found(encryptor: Encryptor) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    for verb, payload in [("update", {"name": "mine"}), ("delete", {})]:
        document = command(verb, connection_id, payload, tenant="intruder")
        outcome = await encryptor.one(
            document, subject=f"connmgr.cmd.intruder.{verb}.{connection_id}"
        )
        assert outcome.reason == "not_found"
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.name == "orders-db"
    assert not state.deleted


async def test_a_subject_naming_another_connection_is_rejected(encryptor: Encryptor) -> None:
    document = command("create", new_id(), postgres_payload(auth={"method": "none"}))
    outcome = await encryptor.one(document, subject=f"connmgr.cmd.{TENANT}.create.{new_id()}")
    assert outcome.reason == "subject_mismatch"


async def test_every_handled_command_is_recorded_once(encryptor: Encryptor) -> None:
    connection_id = new_id()
    await create(encryptor, connection_id)
    await encryptor.one(b"{}")
    async with encryptor.engine.connect() as connection:
        count = (
            await connection.execute(select(func.count()).select_from(handled_commands))
        ).scalar_one()
    assert count == 2


async def test_a_template_fills_the_config_and_auth(encryptor: Encryptor) -> None:
    connection_id = new_id()
    key = encryptor.keyring.seal_public_info()
    payload = {
        "name": "payments",
        "kind": "http",
        "template": "stripe",
        "secrets": sealed({"token": "sk_test_x"}, key, connection_id),
    }
    outcome = await encryptor.one(command("create", connection_id, payload))
    assert outcome.outcome == "accepted", outcome
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.config["base_url"] == "https://api.stripe.com"
    assert state.config["test"]["path"] == "/v1/balance"
    assert (state.auth["method"], state.template) == ("bearer", "stripe")


@pytest.mark.parametrize(
    ("template", "kind", "reason"),
    [("no-such-template", "http", "unknown_template"), ("stripe", "postgres", "invalid_config")],
)
async def test_a_template_must_exist_and_match_the_kind(
    encryptor: Encryptor, template: str, kind: str, reason: str
) -> None:
    payload = {"name": "x", "kind": kind, "template": template}
    outcome = await encryptor.one(command("create", new_id(), payload))
    assert outcome.reason == reason


async def test_a_nul_character_is_rejected_before_it_reaches_the_database(
    encryptor: Encryptor,
) -> None:
    document = command("create", new_id(), postgres_payload(name="orders\u0000db"))
    outcome = await encryptor.one(document)
    assert (outcome.outcome, outcome.reason) == ("rejected", "invalid_command")


async def test_a_message_whose_write_fails_does_not_hold_back_its_batch(
    encryptor: Encryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_module.save_changed_connections

    async def failing(connection, before, after):  # type: ignore[no-untyped-def]
        if any(state.name == "explode" for state in after.values()):
            raise RuntimeError("the database refused this row")
        await real(connection, before, after)

    monkeypatch.setattr(batch_module, "save_changed_connections", failing)
    good = [  # names are unique per tenant
        command("create", new_id(), postgres_payload(name=f"db-{n}", auth={"method": "none"}))
        for n in range(2)
    ]
    bad = command("create", new_id(), postgres_payload(name="explode", auth={"method": "none"}))
    first, middle, last = await encryptor.run(good[0], bad, good[1])
    assert first.outcome is not None
    assert first.outcome.outcome == "accepted"
    assert last.outcome is not None
    assert last.outcome.outcome == "accepted"
    assert middle.retry
    (final,) = await encryptor.run(bad, delivered=5)
    assert final.outcome is not None
    assert final.outcome.reason == "max_deliveries"
    assert final.dead_letter
