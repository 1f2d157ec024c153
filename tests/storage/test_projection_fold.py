"""The fold of the events other pools append (``storage.projection``): a test result
(tester), a health status change (prober), an event type the fold does not know, and
events for a connection that was never created. Expected states are written here;
the encryptor's commands are checked in ``tests/encryptor/test_fold_by_command.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import pytest

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


def event(kind: str, data: dict[str, Any], version: int = 2) -> StoredEvent:
    return StoredEvent(
        position=9,
        event_id="7d0c8f5e-3b1a-4c2d-9e8f-0a1b2c3d4e5f",
        stream_id=CONNECTION_ID,
        version=version,
        type=kind,
        tenant="acme",
        data=data,
        metadata={},
        recorded_at=LATER,
        hash="",
    )


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
        ("ConnectionDeleted", {}),
        ("HealthStatusChanged", WENT_DOWN),
    ],
)
def test_a_change_to_a_connection_never_created_is_an_error(
    kind: str, data: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=f"^{kind} at position 9 has no prior ConnectionCreated$"):
        apply(None, event(kind, data))
