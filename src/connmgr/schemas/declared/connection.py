"""One connection of a connections file, and what is refused when the file is loaded.

A connection is named, never identified: ``name`` is its key, unique in the file and
in the tenant, and the file has no ids and no tenant (the token that applies it says
whose connections they are), so a file cannot name a connection of another tenant.

Secrets appear only as references under ``secrets`` (``env:NAME``, ``file:PATH`` or
``prompt``; ``schemas/secret_references.py``). A literal value is refused with an
error naming the field, and so is a secret-looking field (``password``, ``token``…)
given in ``config`` or ``auth`` instead; no error quotes a value (``docs/security.md``,
"Connections files hold references, never secrets").

Refused as well, so that a bad file fails when it is loaded, before anything is sent
(``docs/decisions.md``, "Connections as code"): a secret the auth method does not
take or a missing one it needs (``connection_auth.secret_fields``), a ``managed-by:``
tag (``apply`` sets it from the file's source, ``source``), a connection depending on
itself, and a config the kind refuses once the template is filled in
(``config.normalized``).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from connmgr.schemas.connection_auth import Auth, NoAuth, secret_fields
from connmgr.schemas.declared.config import normalized
from connmgr.schemas.declared.health_check import DeclaredHealthCheck
from connmgr.schemas.declared.problems import problems_text
from connmgr.schemas.declared.source import MANAGED_BY_PREFIX
from connmgr.schemas.fields import Description, Identifier, Name, Tag
from connmgr.schemas.kinds import Kind
from connmgr.schemas.recipients import NotifySettings
from connmgr.schemas.secret_references import SecretName, SecretReferenceText, secret_path

DECLARED_MODEL: Final = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
"""The models of a file: unknown fields refused, frozen, no input quoted in errors."""


class DeclaredConnection(BaseModel):
    """One connection of a file; ``name`` is its key (see the module doc)."""

    model_config = DECLARED_MODEL

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


__all__ = ["DECLARED_MODEL", "DeclaredConnection"]
