"""A declared connection's config and auth as they are stored, and as a file writes them.

``normalized`` is what the encryptor stores for a connection: the template's config
and auth filled in, then the kind's defaults, as ``workers/intake.with_template`` and
the kind's model do for a command. ``apply`` sends config and auth in this form,
since an update replaces them whole and a template only fills a create
(``docs/decisions.md``, "Connections as code"). ``compact_config`` is the way back for
``export``: the fields equal to the kind's defaults are left out, and ``normalized``
fills them in again, so the file holds what was chosen and loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter

from connmgr.schemas.connection_auth import Auth
from connmgr.schemas.kinds import CONFIG_MODELS, Kind
from connmgr.schemas.templates import apply_template, get_template

_AUTH: Final[TypeAdapter[Auth]] = TypeAdapter(Auth)


def auth_json(auth: Auth) -> dict[str, Any]:
    """``auth`` as JSON, its ``method`` always written (even for the default ``none``)."""
    dumped: dict[str, Any] = _AUTH.dump_python(auth, mode="json")
    return dumped


def normalized(
    kind: Kind, template_id: str | None, config: Mapping[str, Any], auth: Auth
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and auth as the encryptor stores them; ``LookupError`` for a
    template not in the catalogue or of another kind, ``ValidationError`` for a bad
    config."""
    stored_config, stored_auth = dict(config), auth_json(auth)
    if template_id is not None:
        template = get_template(template_id)
        if template is None:
            raise LookupError("not in the catalogue")
        if template.kind != kind:
            raise LookupError(f"is for kind {template.kind.value}")
        # ``apply`` sends the whole auth, as every ConnectionSpec does: it wins over
        # the template's when the methods differ, and merges when they agree.
        _, stored_config, stored_auth = apply_template(template, config, stored_auth)
        stored_auth = auth_json(_AUTH.validate_python(stored_auth, strict=True))
    model = CONFIG_MODELS[kind].model_validate(stored_config, strict=True, by_alias=True)
    return model.model_dump(mode="json", by_alias=True), stored_auth


def compact_config(kind: Kind, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without the fields equal to the kind's defaults, as ``export`` writes
    it: ``normalized_config`` fills them in again, so nothing is lost."""
    defaults: dict[str, Any] = {}
    for name, info in CONFIG_MODELS[kind].model_fields.items():
        if not info.is_required():
            default = info.get_default(call_default_factory=True)
            dumped = default.model_dump(mode="json") if isinstance(default, BaseModel) else default
            defaults[info.alias or name] = dumped
    return {
        key: value for key, value in config.items() if key not in defaults or defaults[key] != value
    }


__all__ = ["auth_json", "compact_config", "normalized"]
