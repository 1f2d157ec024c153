"""Uptime Kuma: a backup JSON (``{"version", "notificationList", "monitorList"}``).

Each monitor of ``monitorList`` becomes a connection with its health check on,
keeping the monitor's interval, retries (``failure_threshold`` = retries + 1:
Kuma marks a monitor down after that many failures) and timeout, and ``active``
as ``enabled`` (``docs/importers.md``, "Uptime Kuma"):

- ``http`` and ``keyword``: an ``http`` connection; accepted status codes become
  ``expected_status`` (connmgr expects one status: a range is narrowed, with a
  note), the keyword ``body_contains``; basic, OAuth2 client credentials and
  mTLS logins and credential headers become auth and secrets;
- ``port``: a ``tcp`` connection;
- ``postgres``, ``mysql``, ``mongodb``, ``redis``: the kind of the same name,
  read from the monitor's connection string (its password becomes a secret);
- ``dns`` and every other type (``ping``, ``push``, ``docker``, …) are skipped
  with the reason, and so are monitors whose check connmgr cannot express the
  same way (an inverted keyword, "upside down" mode, NTLM).

Monitor names are not unique in Kuma; a repeated name gets ``#<monitor id>``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, Final

from connmgr.schemas.kinds import Kind

from .airflow_types import AirflowConnection, convert_connection
from .entries import Conversion, EntryRefused, ImportedConnection, convert_entries, tags_of
from .errors import ImportFailed
from .reading import load_json
from .uptime_kuma_http import http_monitor, monitor_flag
from .uris import split_uri

DATABASE_TYPES: Final = {"postgres": "postgres", "mysql": "mysql", "mongodb": "mongo"} | {
    "redis": "redis"
}
_SCHEMES: Final = {
    "postgres": ("postgres", "postgresql"),
    "mysql": ("mysql", "mariadb"),
    "mongodb": ("mongodb",),
    "redis": ("redis", "rediss"),
}


def convert(text: str) -> Conversion:
    """Every monitor of one backup file; ``ImportFailed`` if it is not a Kuma backup."""
    document = load_json(text)
    if not isinstance(document, dict) or not isinstance(document.get("monitorList"), list):
        raise ImportFailed("input_not_recognised", "not an Uptime Kuma backup (no monitorList)")
    monitors = document["monitorList"]
    for index, monitor in enumerate(monitors):
        if not isinstance(monitor, dict) or not isinstance(monitor.get("name"), str):
            raise ImportFailed("input_malformed", f"monitorList[{index}] is not a named monitor")
    repeated = {n for n, count in Counter(m["name"] for m in monitors).items() if count > 1}
    labelled = [(_name(monitor, repeated), monitor) for monitor in monitors]
    return convert_entries(((f"uptime-kuma:{name}", m) for name, m in labelled), _convert)


def _name(monitor: dict[str, Any], repeated: set[str]) -> str:
    name: str = monitor["name"].strip()
    return f"{name} #{monitor.get('id')}" if monitor["name"] in repeated else name


def _convert(label: str, monitor: dict[str, Any], notes: list[str]) -> ImportedConnection:
    name = label.partition(":")[2]
    monitor_type = str(monitor.get("type", ""))
    if monitor_type == "dns":
        raise EntryRefused("DNS monitors have no connmgr kind: connmgr checks connections")
    if monitor_flag(monitor, "upsideDown"):
        raise EntryRefused("upside down mode (down when reachable) has no connmgr equivalent")
    if monitor_type in ("http", "keyword"):
        connection = http_monitor(name, monitor, notes)
    elif monitor_type == "port":
        config = {"host": monitor.get("hostname"), "port": monitor.get("port")}
        connection = ImportedConnection(name=name, kind=Kind.TCP, config=config)
    elif monitor_type in DATABASE_TYPES:
        connection = _database(name, monitor_type, monitor, notes)
    else:
        raise EntryRefused(f"monitor type {monitor_type or '(none)'!r} has no connmgr kind")
    tags = tags_of(_tag_labels(monitor.get("tags")), notes)
    description = str(monitor.get("description") or "")[:2000]
    health = _health(monitor, notes)
    return dataclasses.replace(connection, health_check=health, tags=tags, description=description)


def _health(monitor: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    interval = _clamped(monitor.get("interval", 60), 10, 86400, "interval", notes)
    retries = _clamped(monitor.get("maxretries", 0), 0, 99, "retries", notes)
    health: dict[str, Any] = {
        "enabled": monitor_flag(monitor, "active", default=True),
        "interval_s": interval,
        "failure_threshold": retries + 1,
    }
    timeout = monitor.get("timeout")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        health["timeout_s"] = _clamped(round(timeout), 1, 60, "timeout", notes)
    retry_interval = monitor.get("retryInterval")
    if retries and retry_interval not in (None, interval):
        notes.append("retry interval not kept: connmgr retries at the check interval")
    return health


def _clamped(value: Any, low: int, high: int, what: str, notes: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EntryRefused(f"{what} is not a number")
    number = int(value)
    if not low <= number <= high:
        notes.append(f"{what} {number} is outside connmgr's {low}..{high}: set to the bound")
    return min(max(number, low), high)


def _database(
    name: str, monitor_type: str, monitor: dict[str, Any], notes: list[str]
) -> ImportedConnection:
    uri = monitor.get("databaseConnectionString")
    if not isinstance(uri, str) or not uri.strip():
        raise EntryRefused("the monitor has no connection string")
    parts = split_uri(uri)
    if parts.scheme not in _SCHEMES[monitor_type]:
        raise EntryRefused(f"the connection string is not a {monitor_type} URI")
    extra: dict[str, Any] = dict(parts.query)
    schema = parts.path or None
    if monitor_type == "redis":
        extra |= {"ssl": parts.scheme == "rediss"} | ({"db": schema} if schema else {})
        schema = None
    airflow_shaped = AirflowConnection(
        conn_id=name,
        conn_type=DATABASE_TYPES[monitor_type],
        host=parts.host,
        port=parts.port,
        schema=schema,
        login=parts.username,
        password=parts.password,
        extra=extra,
    )
    return convert_connection(airflow_shaped, notes)


def _tag_labels(raw: Any) -> list[str]:
    labels = []
    for tag in raw if isinstance(raw, list) else []:
        if isinstance(tag, dict) and tag.get("name"):
            value = tag.get("value")
            labels.append(f"{tag['name']}:{value}" if value else str(tag["name"]))
    return labels


def monitormonitor_flag(monitor: dict[str, Any], key: str, default: bool = False) -> bool:
    value = monitor.get(key, default)
    return bool(value) if value is not None else default
