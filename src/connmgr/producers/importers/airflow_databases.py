"""Airflow's database types: ``postgres``, ``mysql``, ``mongo``, ``redis``.

Each reads host, port, schema (the database), login and the extras connmgr has a
field for; an extra that changes where the connection goes without a connmgr
equivalent (a unix socket, an SRV lookup) skips the entry (``docs/importers.md``,
"Airflow").
"""

from __future__ import annotations

from typing import Any, Final

from connmgr.schemas.kinds import Kind

from .airflow_fields import (
    AirflowConnection,
    flag,
    host_of,
    login_of,
    made,
    number,
    with_port,
)
from .entries import EntryRefused

_PG_SSL: Final = {"disable": "disable", "require": "require"} | {
    mode: mode for mode in ("verify-ca", "verify-full")
}
_MYSQL_SSL: Final = {
    "disabled": "disable",
    "required": "require",
    "verify_ca": "verify-ca",
    "verify_identity": "verify-full",
}


def postgres(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    config: dict[str, Any] = {"host": host_of(connection), "database": connection.schema}
    if not connection.schema:
        config["database"] = "postgres"
        notes.append("no schema (database) given: used postgres")
    mode = str(extras.pop("sslmode", "")).lower()
    if mode in _PG_SSL:
        config["ssl"] = _PG_SSL[mode]
    elif mode:
        notes.append(f"sslmode {mode} has no connmgr equivalent: TLS is verified (verify-full)")
    for path_extra in ("sslrootcert", "sslcert", "sslkey"):
        if extras.pop(path_extra, None) is not None:
            notes.append(f"dropped option {path_extra!r}: connmgr takes PEM text, not file paths")
    config = with_port(config, connection.port)
    return made(connection, Kind.POSTGRES, config, login_of(connection))


def mysql(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    if extras.pop("unix_socket", None):
        raise EntryRefused("it connects through a unix socket; connmgr connects over TCP only")
    config: dict[str, Any] = {"host": host_of(connection)}
    if connection.schema:
        config["database"] = connection.schema
    mode = str(extras.pop("ssl_mode", "")).lower()
    if mode in _MYSQL_SSL:
        config["ssl"] = _MYSQL_SSL[mode]
    elif mode:
        notes.append(f"ssl_mode {mode} has no connmgr equivalent: TLS is verified (verify-full)")
    config = with_port(config, connection.port)
    return made(connection, Kind.MYSQL, config, login_of(connection))


def mongo(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    if flag(extras, "srv", False):
        raise EntryRefused("it uses an SRV lookup (mongodb+srv); connmgr connects to one host")
    config: dict[str, Any] = {"host": host_of(connection)}
    if connection.schema:
        config["database"] = connection.schema
    tls = flag(extras, "tls", flag(extras, "ssl", False))
    config["tls"] = tls
    if "authSource" in extras:
        config["auth_source"] = str(extras.pop("authSource"))
    if "replicaSet" in extras:
        config["replica_set"] = str(extras.pop("replicaSet"))
    config = with_port(config, connection.port)
    return made(connection, Kind.MONGODB, config, login_of(connection))


def redis(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    config: dict[str, Any] = {"host": host_of(connection), "tls": flag(extras, "ssl", False)}
    if "db" in extras:
        config["db"] = number(extras.pop("db"), "db")
    auth, secrets = {"method": "none"}, {}
    if connection.password is not None:
        # Redis's AUTH with a password only logs in as the user named "default".
        auth = {"method": "basic", "username": connection.login or "default"}
        secrets = {"password": connection.password}
    config = with_port(config, connection.port)
    return made(connection, Kind.REDIS, config, (auth, secrets))
