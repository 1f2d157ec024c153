"""The fold, event by event (``storage.projection``): a creation and each field of an
update, with the state they leave written out; a test result
(tester), a health status change (prober), an event type the fold does not know, and
events for a connection that was never created; and the fold reading event data as the
log hands it back (JSON: UUIDs as text, and the forms another JSON writer may give).
Expected states are written here; the encryptor's commands are checked in
``tests/encryptor/test_fold_by_command.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import pytest

from connmgr.schemas.events import EncryptedSecrets
from connmgr.storage.event_log import StoredEvent
from connmgr.storage.projection import ConnectionState, apply

CONNECTION_ID: Final = "0b6a1f8e-2c4d-4e6f-8a9b-1c2d3e4f5a6b"
CREATED_AT: Final = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)
LATER: Final = datetime(2026, 3, 14, 7, 30, 5, 250000, tzinfo=UTC)

STATE: Final = ConnectionState(
    id=CONNECTION_ID,
    tenant="acme",
    name="orders-db",
    kind="postgres",
    template=None,
    config={"host": "db.internal", "port": 5432, "database": "orders"},
    auth={"method": "none"},
    secrets=None,
    health_check={"enabled": True},
    tags=("prod",),
    description="",
    status="unknown",
    version=1,
    deleted=False,
    created_at=CREATED_AT,
    updated_at=CREATED_AT,
)

RESULT: Final[dict[str, Any]] = {
    "outcome": "ok",
    "detail": "connected",
    "latency_ms": 12.5,
    "phases": {"connect": 12.5},
    "server": None,
    "tested_at": "2026-03-14T07:30:05.250000Z",
}
WENT_DOWN: Final[dict[str, Any]] = {
    "previous": "unknown",
    "status": "down",
    "reason": "failure_threshold",
    "changed_at": "2026-03-14T07:29:00Z",
}

SEALED: Final[dict[str, Any]] = {
    "secrets_version": 2,
    "field_names": ["password"],
    "nonce": "bm9uY2Utbm9uY2U=",
    "ciphertext": "Y2lwaGVydGV4dA==",
    "algorithm": "AES-256-GCM",
}


def event(kind: str, data: dict[str, Any], version: int = 2, tenant: str = "acme") -> StoredEvent:
    return StoredEvent(
        position=9,
        event_id="7d0c8f5e-3b1a-4c2d-9e8f-0a1b2c3d4e5f",
        stream_id=CONNECTION_ID,
        version=version,
        type=kind,
        tenant=tenant,
        data=data,
        metadata={},
        recorded_at=LATER,
        hash="",
    )


DEPENDENCY: Final = "00000000-0000-0000-0000-000000000007"
HEALTH_CHECK_DATA: Final[dict[str, Any]] = {
    "enabled": True,
    "timeout_s": 9,
    "depends_on": [DEPENDENCY],
}
HEALTH_CHECK_STATE: Final[dict[str, Any]] = {
    "enabled": True,
    "interval_s": 60,
    "timeout_s": 9,
    "failure_threshold": 3,
    "recovery_threshold": 2,
    "latency_slo_ms": None,
    "depends_on": [DEPENDENCY],
    "auth_failure_limit": 3,
}
"""``HEALTH_CHECK_DATA`` as the state holds it: defaults filled, in its JSON form (the
UUIDs as text, as the API reads them and as a rebuild from the log gives them)."""

SEALED_STATE: Final = EncryptedSecrets(
    secrets_version=2,
    field_names=["password"],
    nonce="bm9uY2Utbm9uY2U=",
    ciphertext="Y2lwaGVydGV4dA==",
)


def test_a_creation_sets_every_field_from_the_event() -> None:
    """The tenant and id come from the event's envelope; status, times and version from
    the log; a creation over a state (never written) starts afresh."""
    data = {
        "name": "billing-api",
        "kind": "http",
        "template": "rest-json",
        "config": {"url": "https://billing.internal/health"},
        "auth": {"method": "basic", "username": "app"},
        "secrets": SEALED,
        "health_check": HEALTH_CHECK_DATA,
        "tags": ["eu", "prod"],
        "description": "Zürich ☃",
    }
    created = ConnectionState(
        id=CONNECTION_ID,
        tenant="globex",
        name="billing-api",
        kind="http",
        template="rest-json",
        config={"url": "https://billing.internal/health"},
        auth={"method": "basic", "username": "app"},
        secrets=SEALED_STATE,
        health_check=HEALTH_CHECK_STATE,
        tags=("eu", "prod"),
        description="Zürich ☃",
        status="unknown",
        version=1,
        deleted=False,
        created_at=LATER,
        updated_at=LATER,
        last_test=None,
        status_since=None,
    )
    creation = event("ConnectionCreated", data, version=1, tenant="globex")
    assert apply(None, creation) == created
    assert apply(replace(STATE, last_test=RESULT), creation) == created


@pytest.mark.parametrize(
    ("data", "changes"),
    [
        ({"name": "orders-replica"}, {"name": "orders-replica"}),
        ({"kind": "mysql"}, {"kind": "mysql"}),
        ({"config": {"host": "db2.internal"}}, {"config": {"host": "db2.internal"}}),
        ({"auth": {"method": "basic"}}, {"auth": {"method": "basic"}}),
        ({"secrets": SEALED}, {"secrets": SEALED_STATE}),
        ({"health_check": HEALTH_CHECK_DATA}, {"health_check": HEALTH_CHECK_STATE}),
        ({"tags": ["eu", "dr"]}, {"tags": ("eu", "dr")}),
        ({"tags": []}, {"tags": ()}),
        ({"description": "read replica"}, {"description": "read replica"}),
    ],
    ids=[
        "name",
        "kind",
        "config",
        "auth",
        "secrets",
        "health_check",
        "tags",
        "tags-emptied",
        "description",
    ],
)
def test_an_update_sets_the_changed_field_only(
    data: dict[str, Any], changes: dict[str, Any]
) -> None:
    updated = apply(STATE, event("ConnectionUpdated", {"changed": list(data), **data}))
    assert updated == replace(STATE, **changes, version=2, updated_at=LATER)


def test_an_update_ignores_a_value_its_changed_list_does_not_name() -> None:
    data = {"changed": ["description"], "name": "ignored", "description": "named"}
    updated = apply(STATE, event("ConnectionUpdated", data))
    assert updated == replace(STATE, description="named", version=2, updated_at=LATER)


def test_a_test_result_is_kept_and_steps_the_version_only() -> None:
    tested = apply(STATE, event("ConnectionTested", {"result": RESULT, "tested_version": 1}))
    assert tested == replace(STATE, last_test=RESULT, version=2)


def test_a_draft_test_leaves_no_trace_on_a_connection() -> None:
    draft = {"result": RESULT, "draft": {"name": "x"}}
    assert apply(STATE, event("ConnectionTested", draft)) == STATE
    assert apply(None, event("ConnectionTested", draft)) is None


def test_a_test_of_an_unknown_connection_creates_nothing() -> None:
    assert apply(None, event("ConnectionTested", {"result": RESULT})) is None


def test_a_status_change_sets_the_status_and_since_when() -> None:
    changed = apply(STATE, event("HealthStatusChanged", WENT_DOWN))
    since = datetime(2026, 3, 14, 7, 29, tzinfo=UTC)
    assert changed == replace(STATE, status="down", status_since=since, version=2)


def test_an_event_type_the_fold_does_not_know_steps_the_version_only() -> None:
    assert apply(STATE, event("AlertRaised", {"anything": 1})) == replace(STATE, version=2)
    assert apply(None, event("AlertRaised", {"anything": 1})) is None


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("ConnectionUpdated", {"changed": ["name"], "name": "x"}),
        ("SecretsRotated", {"secrets": SEALED}),
        ("ConnectionDeleted", {}),
        ("HealthStatusChanged", WENT_DOWN),
    ],
)
def test_a_change_to_a_connection_never_created_is_an_error(
    kind: str, data: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=f"^{kind} at position 9 has no prior ConnectionCreated$"):
        apply(None, event(kind, data))


@pytest.mark.parametrize(
    "sealed",
    [SEALED, {**SEALED, "secrets_version": 2.0}],
    ids=["native", "integer-written-as-2.0"],
)
def test_a_rotation_replaces_the_secrets_and_reads_them_leniently(
    sealed: dict[str, Any],
) -> None:
    """Event data is read back from JSON, so leniently (module doc): a number another
    JSON writer gave as ``2.0`` is the version 2, never a fold that fails to rebuild."""
    rotated = apply(STATE, event("SecretsRotated", {"secrets": sealed}))
    assert rotated == replace(STATE, secrets=SEALED_STATE, version=2, updated_at=LATER)
    assert rotated is not None
    assert rotated.secrets_version == 2


@pytest.mark.parametrize(
    "data",
    [{}, {"reason": "retired", "data_key_destroyed": True}, {"data_key_destroyed": 1}],
    ids=["defaults", "native", "boolean-written-as-1"],
)
def test_a_deletion_marks_the_connection_deleted_and_drops_its_secrets(
    data: dict[str, Any],
) -> None:
    """``1`` is how SQLite's JSON functions write true: read leniently, it is true."""
    sealed = replace(STATE, secrets=SEALED_STATE)
    deleted = apply(sealed, event("ConnectionDeleted", data))
    assert deleted == replace(STATE, deleted=True, secrets=None, version=2, updated_at=LATER)
