"""What a connection form is generated from: one document, built by the one generator.

``connection_forms()`` (served at ``GET /api/schemas/connections``) holds:

- ``payload``: the create payload as validated (``json_schema("CreatePayload")``),
  its ``$defs`` at the top, with ``health_check`` and its defaults;
- ``kinds``: each kind's ``config`` schema (``kind_config_schema``) and the auth
  methods it allows (``connection_auth.ALLOWED_METHODS``), each with the secret
  fields it needs (``required``, ``optional``; ``custom_headers``: one per header
  name, ``from_field``);
- ``auth_methods``: each method's schema, as a ``$ref`` into ``$defs``;
- ``health_check``: a ``$ref`` to the health-check settings.

Pure: no I/O; each call returns a new document.
"""

from __future__ import annotations

from typing import Any, Final, get_args

from pydantic import BaseModel

from connmgr.schemas.connection_auth import ALLOWED_METHODS, Auth, CustomHeadersAuth, secret_fields
from connmgr.schemas.json_schema import (
    DEFS_REF,
    DIALECT,
    ID_PREFIX,
    json_schema,
    kind_config_schema,
)
from connmgr.schemas.kinds import Kind

AUTH_MODELS: Final[tuple[type[BaseModel], ...]] = get_args(get_args(Auth)[0])
"""Every auth method's model: the members of the ``Auth`` union, in its order."""


def connection_forms() -> dict[str, Any]:
    """The form document (module doc)."""
    payload = json_schema("CreatePayload")
    defs = payload.pop("$defs")
    payload.pop("$schema", None)
    return {
        "$schema": DIALECT,
        "$id": f"{ID_PREFIX}ConnectionForms",
        "$defs": defs,
        "payload": payload,
        "kinds": {kind.value: _kind(kind) for kind in Kind},
        "auth_methods": {
            _method(model): {"$ref": f"{DEFS_REF}{model.__name__}"} for model in AUTH_MODELS
        },
        "health_check": {"$ref": f"{DEFS_REF}HealthCheckSettings"},
    }


def _kind(kind: Kind) -> dict[str, Any]:
    methods = {_method(model): model for model in AUTH_MODELS}
    allowed = sorted(ALLOWED_METHODS[kind])
    return {
        "config": kind_config_schema(kind),
        "auth_methods": {name: _secrets(methods[name], kind) for name in allowed},
    }


def _secrets(model: type[BaseModel], kind: Kind) -> dict[str, Any]:
    if model is CustomHeadersAuth:  # its secrets are named by the auth itself
        sample = model.model_construct(header_names=[])
        fields = secret_fields(sample, kind)
        return {
            "required": sorted(fields.required),
            "optional": sorted(fields.optional),
            "from_field": "header_names",
        }
    fields = secret_fields(model.model_construct(), kind)  # type: ignore[arg-type]
    return {"required": sorted(fields.required), "optional": sorted(fields.optional)}


def _method(model: type[BaseModel]) -> str:
    return str(model.model_fields["method"].default)
