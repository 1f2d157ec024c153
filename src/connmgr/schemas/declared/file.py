"""A connections file: the document ``connmgr plan``/``apply`` read and ``export`` writes.

A YAML document (JSON is accepted too: it is read the same way)::

    version: 1
    source: platform/prod          # the managed-by marker: see source.py
    connections:
      - name: orders-db            # the key: unique in the file and in the tenant
        kind: postgres
        config: {host: db.internal, database: orders}
        auth: {method: basic, username: app}
        secrets: {password: "env:ORDERS_DB_PASSWORD"}
        health_check: {enabled: true, interval_s: 60}
        depends_on: [core-network] # other connections, by name
        tags: [team:orders]

Each entry is a ``DeclaredConnection`` (``connection``). The file refuses two
connections of one name, since the name is the key ``plan`` matches on
(``docs/decisions.md``, "Connections as code"). Its JSON Schema is published as
``DeclaredFile`` by the one generator (``schemas/json_schema.py``).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from connmgr.schemas.declared.connection import DECLARED_MODEL, DeclaredConnection
from connmgr.schemas.declared.source import DEFAULT_SOURCE, Source, managed_by_tag

FORMAT_VERSION: Final = 1
MAX_CONNECTIONS: Final = 5000


class DeclaredFile(BaseModel):
    """A connections file: ``version``, ``source`` and the connections, by unique name."""

    model_config = DECLARED_MODEL

    version: Literal[1] = FORMAT_VERSION
    source: Source = DEFAULT_SOURCE
    connections: list[DeclaredConnection] = Field(default_factory=list, max_length=MAX_CONNECTIONS)

    @model_validator(mode="after")
    def _unique_names(self) -> DeclaredFile:
        first: dict[str, int] = {}
        for index, connection in enumerate(self.connections):
            if connection.name in first:
                raise PydanticCustomError(
                    "duplicate_name",
                    "connections[{index}].name: the name of connections[{first}] again",
                    {"index": index, "first": first[connection.name]},
                )
            first[connection.name] = index
        return self

    def by_name(self) -> dict[str, DeclaredConnection]:
        return {connection.name: connection for connection in self.connections}

    @property
    def marker(self) -> str:
        """The tag every connection this file creates carries."""
        return managed_by_tag(self.source)


__all__ = ["FORMAT_VERSION", "MAX_CONNECTIONS", "DeclaredFile"]
