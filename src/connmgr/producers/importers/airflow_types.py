"""Airflow ``conn_type`` to connmgr kind, with each type's extras that have a field.

Mapped: ``postgres``, ``mysql``, ``mongo``, ``redis``, ``http`` (and ``https``),
``aws`` (and the old ``s3``), ``smtp``, ``imap``. Any other type (``ftp``,
``sftp``, ``google_cloud_platform``, …) is skipped: connmgr has no kind for it.
Extras connmgr has no field for are dropped with a note naming the extra (never
its value); extras that change where or how a connection goes and have no
equivalent (a unix socket, an SRV lookup, an assumed role, temporary AWS
credentials) skip the entry instead, since the result would not be the same
connection (``docs/importers.md``, "Airflow").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .airflow_databases import mongo, mysql, postgres, redis
from .airflow_fields import AirflowConnection
from .airflow_services import aws, http, imap, smtp
from .entries import EntryRefused, ImportedConnection

__all__ = ["AirflowConnection", "convert_connection"]

Mapper = Callable[[AirflowConnection, dict[str, Any], list[str]], ImportedConnection]


def convert_connection(connection: AirflowConnection, notes: list[str]) -> ImportedConnection:
    """The connmgr connection of one Airflow connection; ``EntryRefused`` if none."""
    conn_type = _normalized(connection.conn_type)
    mapper = _MAPPERS.get(conn_type)
    if mapper is None:
        raise EntryRefused(f"Airflow conn_type {conn_type or '(none)'!r} has no connmgr kind")
    extras = dict(connection.extra)
    imported = mapper(connection, extras, notes)
    for name in sorted(extras):
        notes.append(f"dropped option {name!r}: connmgr has no field for it")
    return imported


def _normalized(conn_type: str) -> str:
    lowered = conn_type.strip().lower().replace("-", "_")
    return {"postgresql": "postgres", "mongodb": "mongo", "s3": "aws"}.get(lowered, lowered)


_MAPPERS: Final[dict[str, Mapper]] = {
    "postgres": postgres,
    "mysql": mysql,
    "mongo": mongo,
    "redis": redis,
    "http": http,
    "https": http,
    "aws": aws,
    "smtp": smtp,
    "imap": imap,
}
