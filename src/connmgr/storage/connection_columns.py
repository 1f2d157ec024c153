"""The columns of a ``connections`` row that every reader of it takes as they are.

A projection row is read back as a ``ConnectionState`` (``projection_store``: the
writers' side, sealed secrets and all) or as a ``ConnectionView`` (``reads/views``:
the API's side, secret field names only). The two differ in ``secrets``, ``tags``
and ``deleted``; every other column is read here, once, for both: its stored value
as it is, and its moments back in UTC (SQLite hands them back naive). No value is
copied or validated here: a reader on the hot path pays for one dict, which its
model would have built from keywords anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connmgr.storage.event_log import as_utc


def shared_columns(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The columns of a ``connections`` row that the state and the view share, by
    field name, in a fresh dict the caller completes with its own fields and hands to
    its model, which checks the names (an unknown or missing one fails on every read)."""
    status_since = row["status_since"]
    return {
        "id": row["id"],
        "tenant": row["tenant"],
        "name": row["name"],
        "kind": row["kind"],
        "template": row["template"],
        "config": row["config"],
        "auth": row["auth"],
        "health_check": row["health_check"],
        "description": row["description"],
        "status": row["status"],
        "version": row["version"],
        "created_at": as_utc(row["created_at"]),
        "updated_at": as_utc(row["updated_at"]),
        "last_test": row["last_test"],
        "status_since": None if status_since is None else as_utc(status_since),
        "notify": row["notify"],
    }
