"""Connections as code: the file ``connmgr plan``/``apply`` read and ``export`` writes.

A YAML document (JSON is accepted too: it is read the same way)::

    version: 1
    source: platform/prod          # the managed-by marker (see below)
    connections:
      - name: orders-db            # the key: unique in the file and in the tenant
        kind: postgres
        config: {host: db.internal, database: orders}
        auth: {method: basic, username: app}
        secrets: {password: "env:ORDERS_DB_PASSWORD"}
        health_check: {enabled: true, interval_s: 60}
        depends_on: [core-network] # other connections, by name
        tags: [team:orders]

A connection is named, never identified: the file has no ids and no tenant (the
token that applies it says whose connections they are), so a file cannot name a
connection of another tenant. ``source`` marks every connection ``apply`` creates
with the tag ``managed-by:<source>``, so ``apply --prune`` deletes only what this
source manages (``docs/decisions.md``, "Connections as code").

Secrets appear only as references (``SecretReference``): ``env:NAME``,
``file:PATH`` or ``prompt``. A literal value is refused with an error naming the
field, and so is a secret-looking field (``password``, ``token``…) given in
``config`` or ``auth`` instead of ``secrets``. No error ever quotes a value.

Pure: ``load_declared`` parses text the caller read; ``dump_declared`` writes the
stable text ``export`` prints (a fixed key order, so a diff shows real changes).
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


__all__ = [
    "DeclaredFile",
]
