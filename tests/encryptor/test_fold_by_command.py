"""The fold checked against the commands: for every field of every encryptor command, an
example run through the encryptor and the connection state it leaves (the projection row
the API reads), field by field, with the expected values written here, not computed by
the fold. ``test_every_command_field_has_an_example`` fails when a command gains a field
that no example exercises and no entry of ``OUTSIDE_THE_STATE`` explains.

The fold is the same code on both backends; the storage contract runs on both in
``test_commands.py``, so these examples run on SQLite only, to stay fast."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Final, NamedTuple, get_args

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from connmgr.schemas.commands import EncryptorCommand
from connmgr.storage.data_keys import get_data_key
from connmgr.storage.event_log import as_utc
from connmgr.storage.projection import ConnectionState
from connmgr.storage.tables import events
from connmgr.workers.secret_box import decrypt_secrets
from support.commands import command, sealed
from support.encryptor import Encryptor


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


class Seal(NamedTuple):
    """Secrets to seal for the example's connection when its command is built."""

    secrets: dict[str, str]


DEPENDENCY: Final = "00000000-0000-0000-0000-000000000007"

EVERY_HEALTH_CHECK_FIELD: Final[dict[str, Any]] = {
    "enabled": True,
    "interval_s": 30,
    "timeout_s": 4,
    "failure_threshold": 5,
    "recovery_threshold": 1,
    "latency_slo_ms": 250,
    "depends_on": [DEPENDENCY],
    "auth_failure_limit": 2,
}
"""Given whole (no default left), so stored exactly as given."""

CREATE: Final[dict[str, Any]] = {
    "name": "orders-db",
    "kind": "postgres",
    "config": {"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
    "auth": {"method": "basic", "username": "app"},
    "secrets": Seal({"password": "pw-1"}),
    "health_check": EVERY_HEALTH_CHECK_FIELD,
    "tags": ["prod", "eu", "prod"],
    "description": "Zürich orders ☃",
}

CREATED: Final[dict[str, Any]] = {
    "tenant": "acme",
    "name": "orders-db",
    "kind": "postgres",
    "template": None,
    "config": {
        "host": "db.internal",
        "port": 5432,
        "database": "orders",
        "ssl": "require",
        "schema": None,
        "ca_pem": None,
        "server_name": None,
    },
    "auth": {"method": "basic", "username": "app"},
    "secrets": {"secrets_version": 1, "field_names": ["password"], "plain": {"password": "pw-1"}},
    "health_check": EVERY_HEALTH_CHECK_FIELD,
    "tags": ["prod", "eu"],
    "description": "Zürich orders ☃",
    "status": "unknown",
    "version": 1,
    "deleted": False,
    "last_test": None,
    "status_since": None,
    "notify": None,
}

DEFAULT_HEALTH_CHECK: Final[dict[str, Any]] = {
    "enabled": True,  # on by default (issue 14 §4)
    "interval_s": 60,
    "timeout_s": 5,
    "failure_threshold": 3,
    "recovery_threshold": 2,
    "latency_slo_ms": None,
    "depends_on": [],
    "auth_failure_limit": 3,
}
NEW_PASSWORD: Final = {
    "secrets_version": 2,
    "field_names": ["password"],
    "plain": {"password": "pw-2"},
}


@dataclass(frozen=True)
class Example:
    """A command after the base create: the command fields it exercises, its outcome
    (``accepted`` or the rejection reason) and the state's changes from ``CREATED``."""

    verb: str
    payload: dict[str, Any]
    covers: tuple[str, ...]
    changes: dict[str, Any] = field(default_factory=dict)
    outcome: str = "accepted"
    tenant: str = "acme"


EXAMPLES: Final[dict[str, Example]] = {
    "update-name": Example(
        "update",
        {"name": "orders-primary"},
        ("update.payload.name",),
        {"name": "orders-primary", "version": 2},
    ),
    "update-description": Example(
        "update",
        {"description": "Übersicht ❄"},
        ("update.payload.description",),
        {"description": "Übersicht ❄", "version": 2},
    ),
    "update-tags": Example(
        "update",
        {"tags": ["pci", "eu", "pci"]},
        ("update.payload.tags",),
        {"tags": ["pci", "eu"], "version": 2},
    ),
    "update-tags-emptied": Example(
        "update", {"tags": []}, ("update.payload.tags",), {"tags": [], "version": 2}
    ),
    "update-health-check": Example(
        "update",
        {"health_check": {"enabled": False, "timeout_s": 9}},
        ("update.payload.health_check",),
        {
            "health_check": {**DEFAULT_HEALTH_CHECK, "enabled": False, "timeout_s": 9},
            "version": 2,
        },
    ),
    "update-config-harmless": Example(
        "update",
        {"config": {"host": "db.internal", "database": "billing"}},
        ("update.payload.config",),
        {
            "config": {
                "host": "db.internal",
                "port": 5432,
                "database": "billing",
                "ssl": "verify-full",
                "schema": None,
                "ca_pem": None,
                "server_name": None,
            },
            "version": 2,
        },
    ),
    "update-config-moving-the-secret": Example(
        "update",
        {"config": {"host": "db2.internal", "database": "orders"}},
        ("update.payload.config",),
        outcome="secrets_required",
    ),
    "update-secrets": Example(
        "update",
        {"secrets": Seal({"password": "pw-2"})},
        ("update.payload.secrets",),
        {"secrets": NEW_PASSWORD, "version": 2},
    ),
    "update-auth-with-secrets": Example(
        "update",
        {
            "auth": {"method": "basic", "username": "reporter"},
            "secrets": Seal({"password": "pw-2"}),
        },
        ("update.payload.auth", "update.payload.secrets"),
        {
            "auth": {"method": "basic", "username": "reporter"},
            "secrets": NEW_PASSWORD,
            "version": 2,
        },
    ),
    "update-auth-to-none-drops-the-secrets": Example(
        "update",
        {"auth": {"method": "none"}},
        ("update.payload.auth",),
        {"auth": {"method": "none"}, "secrets": None, "version": 2},
    ),
    "update-kind": Example(
        "update",
        {
            "kind": "mysql",
            "config": {"host": "db.internal", "ssl": "require"},
            "secrets": Seal({"password": "pw-2"}),
        },
        ("update.payload.kind", "update.payload.config", "update.payload.secrets"),
        {
            "kind": "mysql",
            "config": {
                "host": "db.internal",
                "port": 3306,
                "database": None,
                "ssl": "require",
                "ca_pem": None,
                "server_name": None,
            },
            "secrets": NEW_PASSWORD,
            "version": 2,
        },
    ),
    "update-expected-version": Example(
        "update",
        {"expected_version": 1, "name": "orders-primary"},
        ("update.payload.expected_version",),
        {"name": "orders-primary", "version": 2},
    ),
    "update-stale-version": Example(
        "update",
        {"expected_version": 2, "name": "orders-primary"},
        ("update.payload.expected_version",),
        outcome="version_conflict",
    ),
    "update-notify-on-a-kind-without-mail": Example(
        "update",
        {"notify": {"recipients": ["ops@example.com"]}},
        ("update.payload.notify",),
        outcome="invalid_recipients",
    ),
    "update-notify-emptied-where-there-is-none": Example(
        "update", {"notify": {"recipients": []}}, ("update.payload.notify",)
    ),
    "update-by-another-tenant": Example(
        "update", {"name": "mine"}, ("update.actor",), outcome="not_found", tenant="globex"
    ),
    "rotate": Example(
        "rotate",
        {"secrets": Seal({"password": "pw-2"})},
        ("rotate.payload.secrets",),
        {"secrets": NEW_PASSWORD, "version": 2},
    ),
    "rotate-expected-version": Example(
        "rotate",
        {"expected_version": 1, "secrets": Seal({"password": "pw-2"})},
        ("rotate.payload.expected_version",),
        {"secrets": NEW_PASSWORD, "version": 2},
    ),
    "rotate-stale-version": Example(
        "rotate",
        {"expected_version": 3, "secrets": Seal({"password": "pw-2"})},
        ("rotate.payload.expected_version",),
        outcome="version_conflict",
    ),
    "rotate-by-another-tenant": Example(
        "rotate",
        {"secrets": Seal({"password": "pw-2"})},
        ("rotate.actor",),
        outcome="not_found",
        tenant="globex",
    ),
    "delete": Example("delete", {}, (), {"deleted": True, "secrets": None, "version": 2}),
    "delete-with-reason": Example(
        "delete",
        {"reason": "decommissioned", "expected_version": 1},
        ("delete.payload.reason", "delete.payload.expected_version"),
        {"deleted": True, "secrets": None, "version": 2},
    ),
    "delete-stale-version": Example(
        "delete",
        {"expected_version": 2},
        ("delete.payload.expected_version",),
        outcome="version_conflict",
    ),
    "delete-by-another-tenant": Example(
        "delete", {}, ("delete.actor",), outcome="not_found", tenant="globex"
    ),
}

CREATE_COVERS: Final = (*(f"create.payload.{name}" for name in CREATE), "create.actor")
TEMPLATE_COVERS: Final = ("create.payload.template",)
MAIL_COVERS: Final = ("create.payload.notify", "update.payload.notify")
OUTSIDE_THE_STATE: Final = {
    "command_id": "the exactly-once key: handled_commands and the events' metadata",
    "issued_at": "when the producer sent it: the events' metadata",
    "correlation_id": "the caller's tracing id: the events' metadata and the outcome",
    "reply_to": "where the outcome is sent, never stored in the connection",
    "connection_id": "not outside: the state's id, which every example checks (_readable)",
}


def command_fields() -> set[str]:
    """``<verb>.<field>`` and ``<verb>.payload.<field>`` for every encryptor command."""
    found: set[str] = set()
    for model in get_args(EncryptorCommand):
        verb = get_args(model.model_fields["type"].annotation)[0]
        envelope = set(model.model_fields) - {"type", "payload"}
        found |= {f"{verb}.{name}" for name in envelope}
        payload = model.model_fields["payload"].annotation
        assert isinstance(payload, type)
        assert issubclass(payload, BaseModel)
        found |= {f"{verb}.payload.{name}" for name in payload.model_fields}
    return found


def test_every_command_field_has_an_example() -> None:
    covered = {name for example in EXAMPLES.values() for name in example.covers}
    covered |= set(CREATE_COVERS) | set(TEMPLATE_COVERS) | set(MAIL_COVERS)
    outside = {
        f"{verb}.{name}"
        for verb in ("create", "update", "rotate", "delete")
        for name in OUTSIDE_THE_STATE
    }
    assert command_fields() - covered - outside == set()
    assert covered - command_fields() == set(), "an example names a field no command has"


async def test_a_create_sets_every_field(encryptor: Encryptor) -> None:
    connection_id = await _created(encryptor)
    assert await _readable(encryptor, connection_id) == CREATED
    await _assert_times(encryptor, connection_id)


async def test_a_create_by_another_tenant_belongs_to_it(encryptor: Encryptor) -> None:
    connection_id = await _created(encryptor, tenant="globex")
    assert await _readable(encryptor, connection_id) == {**CREATED, "tenant": "globex"}


async def test_a_create_from_a_template_keeps_its_name_and_fills_the_config(
    encryptor: Encryptor,
) -> None:
    connection_id = str(uuid.uuid4())
    payload: dict[str, Any] = {"name": "payments", "kind": "http", "template": "stripe"}
    payload |= {"tags": ["billing"], "secrets": Seal({"token": "sk_test_1"})}
    assert (
        await encryptor.one(_command(encryptor, "create", connection_id, payload))
    ).outcome == "accepted"
    test_request = {
        "method": "GET",
        "path": "/v1/balance",
        "expected_status": 200,
        "json_path": "available",
        "body_contains": None,
    }
    assert await _readable(encryptor, connection_id) == {
        **CREATED,
        "name": "payments",
        "kind": "http",
        "template": "stripe",
        "config": {
            "base_url": "https://api.stripe.com",
            "ca_pem": None,
            "headers": {},
            "server_name": None,
            "test": test_request,
        },
        "auth": {"method": "bearer"},
        "secrets": {
            "secrets_version": 1,
            "field_names": ["token"],
            "plain": {"token": "sk_test_1"},
        },
        "health_check": DEFAULT_HEALTH_CHECK,
        "tags": ["billing"],
        "description": "",
    }


async def test_a_mail_channel_keeps_its_recipients_and_an_update_replaces_them(
    encryptor: Encryptor,
) -> None:
    connection_id = str(uuid.uuid4())
    payload: dict[str, Any] = {
        "name": "mail-alerts",
        "kind": "smtp",
        "config": {"host": "mail.example.com"},
        "auth": {"method": "none"},
        "tags": ["notify"],
        "notify": {"recipients": ["Ops@Example.COM", "ops@example.com"], "sender": "a@example.com"},
    }
    created = await encryptor.one(_command(encryptor, "create", connection_id, payload))
    mail = {
        **CREATED,
        "name": "mail-alerts",
        "kind": "smtp",
        "config": {
            "host": "mail.example.com",
            "port": 587,
            "security": "starttls",
            "ca_pem": None,
            "server_name": None,
        },
        "auth": {"method": "none"},
        "secrets": None,
        "health_check": DEFAULT_HEALTH_CHECK,
        "tags": ["notify"],
        "description": "",
        "notify": {"recipients": ["Ops@example.com", "ops@example.com"], "sender": "a@example.com"},
    }
    assert created.outcome == "accepted"
    assert await _readable(encryptor, connection_id) == mail

    update = {"notify": {"recipients": ["oncall@example.com"]}}
    updated = await encryptor.one(_command(encryptor, "update", connection_id, update))
    assert updated.outcome == "accepted"
    assert await _readable(encryptor, connection_id) == {
        **mail,
        "notify": {"recipients": ["oncall@example.com"], "sender": None},
        "version": 2,
    }


@pytest.mark.parametrize("name", list(EXAMPLES))
async def test_a_command_leaves_the_state_written_here(encryptor: Encryptor, name: str) -> None:
    example = EXAMPLES[name]
    connection_id = await _created(encryptor)
    document = _command(encryptor, example.verb, connection_id, example.payload, example.tenant)
    subject = f"connmgr.cmd.{example.tenant}.{example.verb}.{connection_id}"
    outcome = await encryptor.one(document, subject=subject)
    assert (outcome.reason or outcome.outcome) == example.outcome
    assert await _readable(encryptor, connection_id) == {**CREATED, **example.changes}
    await _assert_times(encryptor, connection_id)


async def _created(encryptor: Encryptor, tenant: str = "acme") -> str:
    connection_id = str(uuid.uuid4())
    document = _command(encryptor, "create", connection_id, CREATE, tenant)
    outcome = await encryptor.one(document, subject=f"connmgr.cmd.{tenant}.create.{connection_id}")
    assert outcome.outcome == "accepted", outcome
    return connection_id


def _command(
    encryptor: Encryptor,
    verb: str,
    connection_id: str,
    payload: dict[str, Any],
    tenant: str = "acme",
) -> dict[str, Any]:
    key = encryptor.keyring.seal_public_info()
    built = {
        name: sealed(value.secrets, key, connection_id) if isinstance(value, Seal) else value
        for name, value in payload.items()
    }
    return command(verb, connection_id, built, tenant=tenant)


async def _readable(encryptor: Encryptor, connection_id: str) -> dict[str, Any]:
    """Every field of the stored state but the id and the times (``_assert_times``), the
    secrets as their version, field names and what the stored data key decrypts."""
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.id == connection_id
    view = {f.name: getattr(state, f.name) for f in fields(ConnectionState)}
    for name in ("id", "created_at", "updated_at"):
        del view[name]
    view["tags"] = list(state.tags)
    view["secrets"] = await _plain_secrets(encryptor, state)
    return view


async def _plain_secrets(encryptor: Encryptor, state: ConnectionState) -> dict[str, Any] | None:
    async with encryptor.engine.connect() as connection:
        wrapped = await get_data_key(connection, state.id)
    if state.secrets is None:
        assert wrapped is None, "secrets gone, but their data key kept"
        return None
    assert wrapped is not None
    plain = decrypt_secrets(encryptor.keyring.unwrap(wrapped, state.id), state.secrets, state.id)
    return {
        "secrets_version": state.secrets.secrets_version,
        "field_names": state.secrets.field_names,
        "plain": plain,
    }


async def _assert_times(encryptor: Encryptor, connection_id: str) -> None:
    """created_at is the first event's time in the log, updated_at the last's."""
    state = await encryptor.state(connection_id)
    assert state is not None
    async with encryptor.engine.connect() as connection:
        times = (
            (
                await connection.execute(
                    select(events.c.recorded_at)
                    .where(events.c.stream_id == connection_id)
                    .order_by(events.c.position)
                )
            )
            .scalars()
            .all()
        )
    assert (state.created_at, state.updated_at) == (as_utc(times[0]), as_utc(times[-1]))
