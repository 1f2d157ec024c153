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

from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connmgr.schemas.connection_auth import Auth, NoAuth, secret_fields
from connmgr.schemas.declared.config import normalized
from connmgr.schemas.declared.health_check import DeclaredHealthCheck
from connmgr.schemas.declared.problems import problems_text
from connmgr.schemas.declared.source import (
    DEFAULT_SOURCE,
    MANAGED_BY_PREFIX,
    Source,
    managed_by_tag,
)
from connmgr.schemas.fields import Description, Identifier, Name, Tag
from connmgr.schemas.kinds import Kind
from connmgr.schemas.recipients import NotifySettings
from connmgr.schemas.secret_references import (
    SecretName,
    SecretReferenceText,
    secret_path,
)

FORMAT_VERSION: Final = 1
MAX_CONNECTIONS: Final = 5000

_DECLARED_MODEL: Final = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class DeclaredConnection(BaseModel):
    """One connection of a file; ``name`` is its key (see the module doc)."""

    model_config = _DECLARED_MODEL

    name: Name
    kind: Kind
    template: Identifier | None = None
    config: dict[str, JsonValue] = Field(default_factory=dict)
    auth: Auth = Field(default_factory=NoAuth)
    secrets: dict[SecretName, SecretReferenceText] = Field(default_factory=dict, max_length=32)
    health_check: DeclaredHealthCheck = Field(default_factory=DeclaredHealthCheck)
    depends_on: tuple[Name, ...] = Field(default=(), max_length=16)
    tags: tuple[Tag, ...] = Field(default=(), max_length=31)
    description: Description = ""
    notify: NotifySettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for section in ("config", "auth"):
                if (path := secret_path(data.get(section), section)) is not None:
                    raise PydanticCustomError(
                        "literal_secret",
                        "{field} holds a secret: give it under secrets as a reference "
                        "(env:NAME, file:PATH or prompt)",
                        {"field": path},
                    )
        return data

    @model_validator(mode="after")
    def _checked(self) -> DeclaredConnection:
        if any(tag.startswith(MANAGED_BY_PREFIX) for tag in self.tags):
            raise PydanticCustomError(
                "reserved_tag", "tags: managed-by: tags are set by apply from source"
            )
        fields = secret_fields(self.auth, self.kind)
        if unknown := sorted(set(self.secrets) - fields.allowed):
            raise PydanticCustomError(
                "unknown_secret",
                "secrets.{field}: not a secret of auth method {method}",
                {"field": unknown[0], "method": self.auth.method},
            )
        if missing := sorted(fields.required - set(self.secrets)):
            raise PydanticCustomError(
                "missing_secret",
                "secrets: needs a reference for {fields}",
                {"fields": ", ".join(missing)},
            )
        if self.name in self.depends_on:
            raise PydanticCustomError("self_dependency", "depends_on: names the connection itself")
        try:
            self.normalized_config()
        except LookupError as error:
            why = {"why": str(error)}
            raise PydanticCustomError("unknown_template", "template: {why}", why) from None
        except ValidationError as error:
            raise PydanticCustomError(
                "invalid_config", "{problems}", {"problems": problems_text(error, "config")}
            ) from None
        return self

    def normalized_config(self) -> dict[str, Any]:
        """``config`` as the encryptor stores it: the template's filled in, then the
        kind's defaults (``workers/intake.with_template``); ``LookupError`` for a
        template not in the catalogue, ``ValidationError`` for a bad config."""
        return normalized(self.kind, self.template, self.config, self.auth)[0]

    def normalized_auth(self) -> dict[str, Any]:
        """``auth`` as the encryptor stores it (the template's merged in)."""
        return normalized(self.kind, self.template, self.config, self.auth)[1]


class DeclaredFile(BaseModel):
    """A connections file: ``version``, ``source`` and the connections, by unique name."""

    model_config = _DECLARED_MODEL

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
    "DeclaredConnection",
    "DeclaredFile",
]
