"""``export``: the tenant's connections as a connections file, with no secret values.

Each connection is written as ``apply`` would read it back: its stored config
(less the kind's defaults, ``compact_config``) and auth, each secret field as a
placeholder reference (``placeholder_reference``: ``env:CONNMGR_SECRET_<NAME>_<FIELD>``;
the API gives field names, never values),
its dependencies by name, its tags without managed-by markers (``apply`` adds its
own). Connections are sorted by name, so the same tenant exports the same text.
A credential header in an http config (``Authorization``…) is left out and
reported: the file format refuses it, and its value must not reach the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connmgr.schemas.declared.config import compact_config
from connmgr.schemas.declared.connection import DeclaredConnection
from connmgr.schemas.declared.file import DeclaredFile
from connmgr.schemas.declared.health_check import DeclaredHealthCheck
from connmgr.schemas.kinds import Kind
from connmgr.schemas.secret_references import SECRET_HEADERS, placeholder_reference

from .declared_state import Existing


@dataclass
class Exported:
    declared: DeclaredFile
    notes: list[str] = field(default_factory=list)


def export_file(existing: list[Existing], source: str) -> Exported:
    names = {connection.id: connection.name for connection in existing}
    notes: list[str] = []
    connections = [
        _declared(connection, names, notes)
        for connection in sorted(existing, key=lambda c: (c.name, c.id))
    ]
    return Exported(DeclaredFile(source=source, connections=connections), notes)


def _declared(connection: Existing, names: dict[str, str], notes: list[str]) -> DeclaredConnection:
    health = dict(connection.health_check)
    depends_on = [names.get(str(cid)) for cid in health.pop("depends_on", [])]
    if None in depends_on:
        notes.append(f"{connection.name}: a dependency that no longer exists is left out")
    return DeclaredConnection.model_validate(
        {
            "name": connection.name,
            "kind": connection.kind,
            "template": connection.template,
            "config": _config(connection, notes),
            "auth": connection.auth,
            "secrets": {
                name: placeholder_reference(connection.name, name)
                for name in connection.secret_fields
            },
            "health_check": DeclaredHealthCheck.model_validate(health),
            "depends_on": [name for name in depends_on if name is not None],
            "tags": connection.own_tags,
            "description": connection.description,
            "notify": connection.notify,
        }
    )


def _config(connection: Existing, notes: list[str]) -> dict[str, Any]:
    config = compact_config(Kind(connection.kind), connection.config)
    headers = config.get("headers")
    if isinstance(headers, dict):
        secret = sorted(name for name in headers if str(name).lower() in SECRET_HEADERS)
        if secret:
            config["headers"] = {k: v for k, v in headers.items() if k not in secret}
            notes.append(f"{connection.name}: header(s) {', '.join(secret)} left out (credentials)")
    return config
