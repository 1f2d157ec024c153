"""An Airflow connection's fields, and the helpers each type's mapping shares.

``AirflowConnection`` is what every export format of Airflow gives
(``airflow``); ``airflow_databases`` and ``airflow_services`` map it to a
connmgr connection per ``conn_type`` (``docs/importers.md``, "Airflow").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from connmgr.schemas.kinds import Kind

from .entries import EntryRefused, ImportedConnection


@dataclass(frozen=True, slots=True)
class AirflowConnection:
    """An Airflow connection's fields, read from any of its export formats."""

    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    description: str = ""


def login_of(connection: AirflowConnection) -> tuple[dict[str, Any], dict[str, SecretStr]]:
    secrets = {"password": connection.password} if connection.password is not None else {}
    if connection.login:
        return {"method": "basic", "username": connection.login}, secrets
    if secrets:
        raise EntryRefused("a password without a login")
    return {"method": "none"}, {}


def host_of(connection: AirflowConnection) -> str:
    if not connection.host:
        raise EntryRefused("the connection names no host")
    return connection.host


def with_port(config: dict[str, Any], port: int | None) -> dict[str, Any]:
    return config | ({"port": port} if port is not None else {})


def made(
    connection: AirflowConnection,
    kind: Kind,
    config: dict[str, Any],
    login: tuple[dict[str, Any], dict[str, SecretStr]],
) -> ImportedConnection:
    auth, secrets = login
    return ImportedConnection(
        name=connection.conn_id,
        kind=kind,
        config=config,
        auth=auth,
        secrets=secrets,
        description=connection.description[:2000],
    )


def flag(extras: dict[str, Any], name: str, default: bool) -> bool:
    """An extra read as Airflow reads it: a bool, or text ``true``/``false``."""
    value = extras.pop(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise EntryRefused(f"extra {name!r} is not true or false")


def number(value: Any, name: str) -> int:
    """An extra read as a whole number, from a number or its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise EntryRefused(f"extra {name!r} is not a number")
