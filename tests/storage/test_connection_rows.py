"""A ``connections`` row read back as a state and as a view (``storage.connection_columns``).

Known answers: a fixed row, as each backend hands it back (SQLite: naive moments;
PostgreSQL: aware ones, in the session's zone), and the exact state and view it reads as.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import pytest

from connmgr.schemas.events import EncryptedSecrets
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import state_from_row, state_row
from connmgr.storage.reads.views import connection_view

SEALED: Final = {
    "secrets_version": 3,
    "field_names": ["token", "api_key"],
    "nonce": "bm9uY2Utbm90LXNlY3JldA==",
    "ciphertext": "Y2lwaGVydGV4dC1tYXJrZXI=",
}
CREATED: Final = datetime(2026, 3, 14, 6, 0, 15, 123456, tzinfo=UTC)
UPDATED: Final = datetime(2026, 3, 14, 7, 30, tzinfo=UTC)
STATUS_SINCE: Final = datetime(2026, 3, 14, 7, 29, tzinfo=UTC)
INDIA: Final = timezone(timedelta(hours=5, minutes=30))


def stored_row(**changes: Any) -> dict[str, Any]:
    """A row with every column set (moments as SQLite returns them: naive UTC)."""
    row: dict[str, Any] = {
        "id": "2b1f0c7e-5d34-4f7a-9c0e-1a2b3c4d5e6f",
        "tenant": "acme",
        "name": "billing-db",
        "kind": "postgres",
        "template": "postgres-default",
        "config": {"host": "db.internal", "port": 5432},
        "auth": {"username": "billing"},
        "secrets": SEALED,
        "health_check": {"enabled": True, "interval_s": 60},
        "tags": ["prod", "billing"],
        "description": "the billing database",
        "status": "healthy",
        "version": 7,
        "deleted": False,
        "created_at": CREATED.replace(tzinfo=None),
        "updated_at": UPDATED.replace(tzinfo=None),
        "last_test": {"outcome": "ok"},
        "status_since": STATUS_SINCE.replace(tzinfo=None),
        "notify": {"to": ["ops@example.com"]},
    }
    return row | changes


def test_a_row_reads_as_the_state_it_holds_with_its_secrets_sealed() -> None:
    assert state_from_row(stored_row()) == ConnectionState(
        id="2b1f0c7e-5d34-4f7a-9c0e-1a2b3c4d5e6f",
        tenant="acme",
        name="billing-db",
        kind="postgres",
        template="postgres-default",
        config={"host": "db.internal", "port": 5432},
        auth={"username": "billing"},
        secrets=EncryptedSecrets.model_validate(SEALED),
        health_check={"enabled": True, "interval_s": 60},
        tags=("prod", "billing"),
        description="the billing database",
        status="healthy",
        version=7,
        deleted=False,
        created_at=CREATED,
        updated_at=UPDATED,
        last_test={"outcome": "ok"},
        status_since=STATUS_SINCE,
        notify={"to": ["ops@example.com"]},
    )


def test_a_row_reads_as_its_view_in_field_order_with_secret_names_sorted_and_no_values() -> None:
    dumped = connection_view(stored_row()).model_dump(mode="json")

    assert list(dumped.items()) == [
        ("id", "2b1f0c7e-5d34-4f7a-9c0e-1a2b3c4d5e6f"),
        ("tenant", "acme"),
        ("name", "billing-db"),
        ("kind", "postgres"),
        ("template", "postgres-default"),
        ("config", {"host": "db.internal", "port": 5432}),
        ("auth", {"username": "billing"}),
        ("secret_fields", ["api_key", "token"]),
        ("secrets_version", 3),
        ("health_check", {"enabled": True, "interval_s": 60}),
        ("tags", ["prod", "billing"]),
        ("description", "the billing database"),
        ("status", "healthy"),
        ("version", 7),
        ("created_at", "2026-03-14T06:00:15.123456Z"),
        ("updated_at", "2026-03-14T07:30:00Z"),
        ("last_test", {"outcome": "ok"}),
        ("status_since", "2026-03-14T07:29:00Z"),
        ("notify", {"to": ["ops@example.com"]}),
    ]


def test_a_row_without_secrets_status_since_template_or_notify_reads_as_nones() -> None:
    row = stored_row(secrets=None, status_since=None, template=None, notify=None, last_test=None)

    state = state_from_row(row)
    view = connection_view(row)

    assert (state.secrets, state.status_since, state.template, state.notify) == (None,) * 4
    assert state.last_test is None
    assert (view.secret_fields, view.secrets_version, view.status_since) == ([], None, None)
    assert (view.template, view.notify, view.last_test) == (None, None, None)


@pytest.mark.parametrize("column", ["created_at", "updated_at", "status_since"])
def test_an_aware_moment_in_another_zone_reads_back_in_utc(column: str) -> None:
    moment = stored_row()[column].replace(tzinfo=UTC)
    row = stored_row(**{column: moment.astimezone(INDIA)})

    read = (getattr(state_from_row(row), column), getattr(connection_view(row), column))

    assert read == (moment, moment)
    assert all(value.tzinfo is UTC for value in read)


def test_a_state_written_as_a_row_reads_back_as_the_same_state_and_its_view() -> None:
    state = state_from_row(stored_row())

    assert state_from_row(state_row(state)) == state
    assert connection_view(state_row(state)) == connection_view(stored_row())
