"""The update handler: what may change, and when stored secrets must be sent again
(every field of ``schemas.secret_destinations``: where or how a secret is sent)."""

from __future__ import annotations

from pydantic import BaseModel

from connmgr.schemas.commands import UpdateConnection
from connmgr.schemas.connection_auth import Auth, secret_fields
from connmgr.schemas.events import ConnectionUpdated, EncryptedSecrets
from connmgr.schemas.kinds import Kind, KindConfig, config_document, parse_config
from connmgr.schemas.outcomes import FieldError, Reason, Rejection
from connmgr.schemas.secret_destinations import moved_fields
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.projection import ConnectionState
from connmgr.workers.encryptor.decisions import (
    Accepted,
    Decision,
    EncryptorPorts,
    not_found,
    owned,
    seal_new_secrets,
    stale_version,
)
from connmgr.workers.intake import (
    auth_document,
    secrets_required,
    stored_auth,
    validate_auth,
    validate_config,
    validate_notify,
)


def _moved_fields(kind: Kind, config: KindConfig, auth: Auth, state: ConnectionState) -> list[str]:
    """The fields whose change would send the stored secrets elsewhere or otherwise
    (``schemas.secret_destinations``), both sides normalised with their defaults."""
    old_kind = Kind(state.kind)
    old_config = config_document(parse_config(old_kind, state.config))
    old_auth = auth_document(stored_auth(state.auth))
    after = (kind, config_document(config), auth_document(auth))
    return moved_fields((old_kind, old_config, old_auth), after)


def _kept_secrets(
    kind: Kind, config: KindConfig, auth: Auth, state: ConnectionState
) -> EncryptedSecrets | Rejection | None:
    """Without new secrets: keep the stored ones, drop them, or ask for them again."""
    needed = secret_fields(auth, kind)
    stored = state.secrets
    have = set(stored.field_names) if stored else set()
    if stored is not None and not needed.allowed:
        return None
    if stored is not None and (moved := _moved_fields(kind, config, auth, state)):
        return Rejection(
            Reason.SECRETS_REQUIRED,
            "where or how the secrets are sent changed: send the secrets again, "
            "stored secrets are never sent to a new target or over a weaker channel",
            [FieldError(field="payload.secrets", message="is required")]
            + [FieldError(field=f"payload.{name}", message="moves the stored secrets")
               for name in moved[:20]],
        )  # fmt: skip
    if not needed.required <= have or not have <= needed.allowed:
        return secrets_required(f"auth method {auth.method} needs other secrets")
    return stored


async def update_connection(
    command: UpdateConnection, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    state = owned(command, current)
    if state is None:
        return not_found()
    payload = command.payload
    if (conflict := stale_version(payload.expected_version, state)) is not None:
        return conflict
    kind = payload.kind or Kind(state.kind)
    if kind.value != state.kind and payload.config is None:
        return Rejection(
            Reason.INVALID_CONFIG,
            "changing the kind needs the config for the new kind",
            [FieldError(field="payload.config", message="is required when kind changes")],
        )
    config = validate_config(kind, payload.config if payload.config is not None else state.config)
    if isinstance(config, Rejection):
        return config
    auth = validate_auth(
        kind, payload.auth if payload.auth is not None else stored_auth(state.auth)
    )
    if isinstance(auth, Rejection):
        return auth
    notify = None if payload.notify is None else validate_notify(kind, payload.notify)
    if isinstance(notify, Rejection):
        return notify
    new_key: WrappedDataKey | None = None
    if payload.secrets is not None:
        version = state.secrets_version + 1
        result = seal_new_secrets(payload.secrets, kind, auth, state.id, version, ports)
        if isinstance(result, Rejection):
            return result
        secrets: EncryptedSecrets | None = result[0]
        new_key = result[1]
    else:
        kept = _kept_secrets(kind, config, auth, state)
        if isinstance(kept, Rejection):
            return kept
        secrets = kept
    values = payload_values(command, kind, config, auth)
    if payload.notify is not None:  # a stored notify stays as it is when not given
        values["notify"] = notify
    event = _changes(state, values, secrets)
    if event is None:
        return Accepted(events=[], notes=["nothing changed"])
    return Accepted(
        events=[event],
        new_data_key=new_key,
        destroy_data_key=secrets is None and state.secrets is not None,
    )


def payload_values(
    command: UpdateConnection, kind: Kind, config: KindConfig, auth: Auth
) -> dict[str, object]:
    payload = command.payload
    values: dict[str, object] = {
        "kind": kind,
        "config": config_document(config),
        "auth": auth_document(auth),
    }
    if payload.name is not None:
        values["name"] = payload.name
    if payload.health_check is not None:
        values["health_check"] = payload.health_check
    if payload.tags is not None:
        values["tags"] = list(dict.fromkeys(payload.tags))
    if payload.description is not None:
        values["description"] = payload.description
    return values


def _changes(
    state: ConnectionState, values: dict[str, object], secrets: EncryptedSecrets | None
) -> ConnectionUpdated | None:
    current: dict[str, object] = {
        "name": state.name,
        "kind": Kind(state.kind),
        "config": state.config,
        "auth": state.auth,
        "health_check": state.health_check,
        "tags": list(state.tags),
        "description": state.description,
        "notify": state.notify,
    }
    changed = {
        name: value
        for name, value in values.items()
        if _comparable(value) != _comparable(current[name])
    }
    if secrets != state.secrets:
        changed["secrets"] = secrets
    if not changed:
        return None
    return ConnectionUpdated.model_validate({"changed": sorted(changed), **changed})


def _comparable(value: object) -> object:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
