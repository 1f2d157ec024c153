"""``ConnectionSpec``: one connection described as a value, and ``ConnectionChanges``.

A spec is what ``create`` and a draft test send (a draft test: a configuration
tested before it is saved): name, kind, template, ``config`` (the kind's address
fields and options, ``schemas/kinds.py``), auth, health check, tags, description,
the e-mail recipients of an ``smtp`` channel (``notify``), and the secrets still
to be sealed. ``ConnectionChanges`` is what an update sends: the same fields but
the template, each optional (None keeps the stored one).

Both are validated on construction by the same field types as the command
payloads, so a valid spec always makes a valid ``create`` payload; bad input
raises pydantic's ``ValidationError``, whose text names the fields and never the
values given (``hide_input_in_errors``). Both are frozen: no field can be
reassigned, validation copies every mapping and list given (the caller's
objects and the spec share nothing), and tags are a tuple. Secret values are
``SecretStr``: masked in ``repr``, ``str`` and every dump (``model_dump(mode=
"json")`` writes ``"**********"``); only ``secret_values()`` reads them.

The connection id is not part of a spec: ``create`` chooses one (or is given
one), and an update names the connection it changes.

This is contract, not client code: the Python producer, the CLI and any other
front end (an HTTP gateway, connection files) read their input into these values,
so it lives with the payloads it maps to (``docs/decisions.md``, "Commands").
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    StringConstraints,
)

from connmgr.schemas.connection_auth import Auth, NoAuth
from connmgr.schemas.fields import Description, Identifier, Name, Tag
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.schemas.recipients import NotifySettings
from connmgr.schemas.sealed import MAX_SECRET_VALUE

MAX_SECRET_FIELDS: Final = 32
MAX_SECRET_NAME: Final = 128
MAX_TAGS: Final = 32

SecretName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SECRET_NAME)]
SecretValue = Annotated[SecretStr, Field(max_length=MAX_SECRET_VALUE)]
SecretValues = Annotated[dict[SecretName, SecretValue], Field(max_length=MAX_SECRET_FIELDS)]
"""The secret fields of a connection before sealing: ``{"password": "…"}``."""

SPEC_MODEL: Final = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ConnectionSpec(BaseModel):
    """A connection as ``create`` and a draft test send it (see the module doc)."""

    model_config = SPEC_MODEL

    name: Name
    kind: Kind
    template: Identifier | None = None
    config: dict[str, JsonValue] = Field(default_factory=dict)
    auth: Auth = Field(default_factory=NoAuth)
    health_check: HealthCheckSettings = Field(default_factory=HealthCheckSettings)
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)
    description: Description = ""
    notify: NotifySettings | None = None
    secrets: SecretValues | None = Field(default=None, repr=False)

    def payload_fields(self) -> dict[str, Any]:
        """The fields of a create payload but its secrets, as its strict model takes them."""
        return _payload(self.model_dump(exclude={"secrets"}))

    def secret_values(self) -> dict[str, str] | None:
        """The secrets to seal, in plain text; None when the spec has none."""
        return _plain(self.secrets)


class ConnectionChanges(BaseModel):
    """What an update changes: the fields given; ``config`` and ``auth`` replace whole.

    ``tags=()`` removes every tag, ``notify`` without recipients and sender removes
    them; None (the default of each field) keeps the stored value. Changing host,
    port, kind or username needs new ``secrets`` (``docs/security.md``, "A changed
    destination asks for the secrets again").
    """

    model_config = SPEC_MODEL

    name: Name | None = None
    kind: Kind | None = None
    config: dict[str, JsonValue] | None = None
    auth: Auth | None = None
    health_check: HealthCheckSettings | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    description: Description | None = None
    notify: NotifySettings | None = None
    secrets: SecretValues | None = Field(default=None, repr=False)

    @classmethod
    def from_spec(cls, spec: ConnectionSpec) -> ConnectionChanges:
        """Every field of ``spec``: the connection becomes ``spec`` (the template, set at
        creation, stays; without secrets in ``spec`` the stored ones stay)."""
        return cls.model_validate(spec.model_dump(exclude={"template"}))

    def payload_fields(self) -> dict[str, Any]:
        """The fields of an update payload but its secrets and version: those given."""
        given = {n: v for n, v in self.model_dump(exclude={"secrets"}).items() if v is not None}
        return _payload(given)

    def secret_values(self) -> dict[str, str] | None:
        """The new secrets to seal, in plain text; None when the changes have none."""
        return _plain(self.secrets)


def _payload(fields: dict[str, Any]) -> dict[str, Any]:
    """A dump as the payload models take it: they are strict, and hold tags in a list."""
    if fields.get("tags") is not None:
        fields["tags"] = list(fields["tags"])
    return fields


def _plain(secrets: dict[str, SecretStr] | None) -> dict[str, str] | None:
    if secrets is None:
        return None
    return {name: value.get_secret_value() for name, value in secrets.items()}
