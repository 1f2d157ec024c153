"""Command handlers: a validated command and the connection's current state in,
a decision out (the events to append, or a rejection). No I/O happens here.

Every secrets change gets a fresh data key (wrapped by the primary KEK), so a
connection's old ciphertexts in the log are unreadable once superseded, and all
of them once the connection is deleted (crypto-shredding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from connmgr.schemas.auth import Auth, secret_fields, username_of
from connmgr.schemas.commands import (
    CreateConnection,
    DeleteConnection,
    EncryptorCommand,
    RotateSecrets,
    SecretsInput,
    UpdateConnection,
)
from connmgr.schemas.events import (
    ConnectionCreated,
    ConnectionDeleted,
    ConnectionUpdated,
    EncryptedSecrets,
    EventData,
    SecretsRotated,
)
from connmgr.schemas.kinds import Kind, KindConfig, config_document, parse_config
from connmgr.schemas.outcomes import FieldError, Reason, Rejection
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.projection import ConnectionState
from connmgr.workers.intake import (
    auth_document,
    check_secret_fields,
    open_secrets_input,
    secrets_required,
    stored_auth,
    validate_auth,
    validate_config,
    validate_new_connection,
)
from connmgr.workers.keyring import Keyring
from connmgr.workers.secret_box import encrypt_secrets


@dataclass(frozen=True, slots=True)
class EncryptorPorts:
    keyring: Keyring
    allow_plaintext: bool


@dataclass(frozen=True, slots=True)
class Accepted:
    events: list[EventData]
    new_data_key: WrappedDataKey | None = None
    destroy_data_key: bool = False
    notes: list[str] = field(default_factory=list)


Decision = Accepted | Rejection


def _not_found() -> Rejection:
    return Rejection(Reason.NOT_FOUND, "no such connection")


def _owned(command: EncryptorCommand, current: ConnectionState | None) -> ConnectionState | None:
    """The connection when it exists, is live and belongs to the command's tenant."""
    if current is None or current.deleted or current.tenant != command.actor.tenant:
        return None
    return current


def _stale(expected: int | None, current: ConnectionState) -> Rejection | None:
    if expected is not None and expected != current.version:
        return Rejection(
            Reason.VERSION_CONFLICT,
            f"expected version {expected}, the connection is at version {current.version}",
            [FieldError(field="payload.expected_version", message="is stale")],
        )
    return None


def _seal_new_secrets(
    secrets: SecretsInput,
    kind: Kind,
    auth: Auth,
    connection_id: str,
    version: int,
    ports: EncryptorPorts,
) -> tuple[EncryptedSecrets, WrappedDataKey] | Rejection:
    opened = open_secrets_input(
        secrets, connection_id, ports.keyring, allow_plaintext=ports.allow_plaintext
    )
    if isinstance(opened, Rejection):
        return opened
    if (problem := check_secret_fields(kind, auth, opened)) is not None:
        return problem
    data_key, wrapped = ports.keyring.new_data_key(connection_id)
    return encrypt_secrets(data_key, opened, connection_id, version), wrapped


async def create_connection(
    command: CreateConnection, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    if current is not None:
        return Rejection(Reason.ALREADY_EXISTS, "a connection with this id already exists")
    payload, connection_id = command.payload, str(command.connection_id)
    new = validate_new_connection(
        payload, connection_id, ports.keyring, allow_plaintext=ports.allow_plaintext
    )
    if isinstance(new, Rejection):
        return new
    secrets, wrapped = None, None
    if new.secrets is not None:
        data_key, wrapped = ports.keyring.new_data_key(connection_id)
        secrets = encrypt_secrets(data_key, new.secrets, connection_id, 1)
    event = ConnectionCreated(
        name=payload.name,
        kind=new.kind,
        template=payload.template,
        config=config_document(new.config),
        auth=auth_document(new.auth),
        secrets=secrets,
        health_check=payload.health_check,
        tags=list(dict.fromkeys(payload.tags)),
        description=payload.description,
    )
    return Accepted(events=[event], new_data_key=wrapped)


def _moves_secrets(kind: Kind, config: KindConfig, auth: Auth, state: ConnectionState) -> bool:
    """Whether stored secrets would now go to another kind, host, port or identity."""
    old_config = parse_config(Kind(state.kind), state.config)
    old_auth = stored_auth(state.auth)
    return (
        kind.value != state.kind
        or config.target() != old_config.target()
        or username_of(auth) != username_of(old_auth)
    )


def _kept_secrets(
    kind: Kind, config: KindConfig, auth: Auth, state: ConnectionState
) -> EncryptedSecrets | Rejection | None:
    """Without new secrets: keep the stored ones, drop them, or ask for them again."""
    needed = secret_fields(auth, kind)
    stored = state.secrets
    have = set(stored.field_names) if stored else set()
    if stored is not None and not needed.allowed:
        return None
    if stored is not None and _moves_secrets(kind, config, auth, state):
        return secrets_required(
            "the target or identity changed: send the secrets again, "
            "stored secrets are never sent to a new target"
        )
    if not needed.required <= have or not have <= needed.allowed:
        return secrets_required(f"auth method {auth.method} needs other secrets")
    return stored


async def update_connection(
    command: UpdateConnection, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    state = _owned(command, current)
    if state is None:
        return _not_found()
    payload = command.payload
    if (stale := _stale(payload.expected_version, state)) is not None:
        return stale
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
    new_key: WrappedDataKey | None = None
    if payload.secrets is not None:
        version = state.secrets_version + 1
        result = _seal_new_secrets(payload.secrets, kind, auth, state.id, version, ports)
        if isinstance(result, Rejection):
            return result
        secrets: EncryptedSecrets | None = result[0]
        new_key = result[1]
    else:
        kept = _kept_secrets(kind, config, auth, state)
        if isinstance(kept, Rejection):
            return kept
        secrets = kept
    event = _changes(state, payload_values(command, kind, config, auth), secrets)
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
    return value.model_dump() if isinstance(value, BaseModel) else value


async def rotate_secrets(
    command: RotateSecrets, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    state = _owned(command, current)
    if state is None:
        return _not_found()
    if (stale := _stale(command.payload.expected_version, state)) is not None:
        return stale
    kind, auth = Kind(state.kind), stored_auth(state.auth)
    result = _seal_new_secrets(
        command.payload.secrets, kind, auth, state.id, state.secrets_version + 1, ports
    )
    if isinstance(result, Rejection):
        return result
    return Accepted(events=[SecretsRotated(secrets=result[0])], new_data_key=result[1])


async def delete_connection(
    command: DeleteConnection, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    state = _owned(command, current)
    if state is None:
        return _not_found()
    if (stale := _stale(command.payload.expected_version, state)) is not None:
        return stale
    return Accepted(
        events=[ConnectionDeleted(reason=command.payload.reason)], destroy_data_key=True
    )


async def handle(
    command: EncryptorCommand, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    """Route a command to its handler: the encryptor's routing table."""
    match command:
        case CreateConnection():
            return await create_connection(command, current, ports)
        case UpdateConnection():
            return await update_connection(command, current, ports)
        case RotateSecrets():
            return await rotate_secrets(command, current, ports)
        case DeleteConnection():
            return await delete_connection(command, current, ports)
