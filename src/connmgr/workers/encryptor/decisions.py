"""What every encryptor handler shares: its ports, its decision, and the common checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from connmgr.schemas.commands import EncryptorCommand, SecretsInput
from connmgr.schemas.connection_auth import Auth
from connmgr.schemas.events import EncryptedSecrets, EventData
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import FieldError, Reason, Rejection
from connmgr.storage.data_keys import WrappedDataKey
from connmgr.storage.projection import ConnectionState
from connmgr.workers.intake import check_secret_fields, open_secrets_input
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


def not_found() -> Rejection:
    return Rejection(Reason.NOT_FOUND, "no such connection")


def owned(command: EncryptorCommand, current: ConnectionState | None) -> ConnectionState | None:
    """The connection when it exists, is live and belongs to the command's tenant."""
    if current is None or current.deleted or current.tenant != command.actor.tenant:
        return None
    return current


def stale_version(expected: int | None, current: ConnectionState) -> Rejection | None:
    if expected is not None and expected != current.version:
        return Rejection(
            Reason.VERSION_CONFLICT,
            f"expected version {expected}, the connection is at version {current.version}",
            [FieldError(field="payload.expected_version", message="is stale")],
        )
    return None


def seal_new_secrets(
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


def name_taken() -> Rejection:
    """Another live connection of the tenant has the name (``encryptor.names``)."""
    return Rejection(
        Reason.NAME_TAKEN,
        "another connection of this tenant has this name; names are unique per tenant",
        [FieldError(field="payload.name", message="is taken")],
    )
