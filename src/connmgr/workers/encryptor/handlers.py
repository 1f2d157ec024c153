"""Command handlers: a validated command and the connection's current state in,
a decision out (the events to append, or a rejection). No I/O happens here.

Every secrets change gets a fresh data key (wrapped by the primary KEK), so a
connection's old ciphertexts in the log are unreadable once superseded, and all
of them once the connection is deleted (crypto-shredding).
"""

from __future__ import annotations

from connmgr.schemas.commands import (
    CreateConnection,
    DeleteConnection,
    EncryptorCommand,
    RotateSecrets,
    UpdateConnection,
)
from connmgr.schemas.events import ConnectionCreated, ConnectionDeleted, SecretsRotated
from connmgr.schemas.kinds import Kind, config_document
from connmgr.schemas.outcomes import FieldError, Reason, Rejection
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
from connmgr.workers.encryptor.updates import update_connection
from connmgr.workers.intake import (
    auth_document,
    stored_auth,
    validate_new_connection,
    validate_notify,
)
from connmgr.workers.secret_box import encrypt_secrets

__all__ = ["Accepted", "Decision", "EncryptorPorts", "handle"]


async def create_connection(
    command: CreateConnection, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    if current is not None:  # this tenant's, live or deleted, or another tenant's: alike
        return Rejection(
            Reason.ID_UNAVAILABLE,
            "this connection id cannot be used; choose another",
            [FieldError(field="connection_id", message="is not available")],
        )
    payload, connection_id = command.payload, str(command.connection_id)
    new = validate_new_connection(
        payload, connection_id, ports.keyring, allow_plaintext=ports.allow_plaintext
    )
    if isinstance(new, Rejection):
        return new
    notify = None if payload.notify is None else validate_notify(new.kind, payload.notify)
    if isinstance(notify, Rejection):
        return notify
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
        notify=notify,
    )
    return Accepted(events=[event], new_data_key=wrapped)


async def rotate_secrets(
    command: RotateSecrets, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    state = owned(command, current)
    if state is None:
        return not_found()
    if (conflict := stale_version(command.payload.expected_version, state)) is not None:
        return conflict
    kind, auth = Kind(state.kind), stored_auth(state.auth)
    result = seal_new_secrets(
        command.payload.secrets, kind, auth, state.id, state.secrets_version + 1, ports
    )
    if isinstance(result, Rejection):
        return result
    return Accepted(events=[SecretsRotated(secrets=result[0])], new_data_key=result[1])


async def delete_connection(
    command: DeleteConnection, current: ConnectionState | None, ports: EncryptorPorts
) -> Decision:
    state = owned(command, current)
    if state is None:
        return not_found()
    if (conflict := stale_version(command.payload.expected_version, state)) is not None:
        return conflict
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
