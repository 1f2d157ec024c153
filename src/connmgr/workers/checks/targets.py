"""What a check runs against: a stored connection, or a draft that is never stored.

Shared by the tester (stored connections and drafts), the prober (through its
cache of prepared targets) and the notifier (a channel's secrets): each opens
secrets the same way, in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.schemas.kinds import Kind, config_document, parse_config
from connmgr.schemas.outcomes import Reason, Rejection
from connmgr.schemas.probe_commands import DraftTestPayload
from connmgr.storage.data_keys import WrappedDataKey, get_data_key
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import load_connection
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.intake import auth_document, stored_auth, validate_new_connection
from connmgr.workers.keyring import Keyring, KeyringError
from connmgr.workers.secret_box import decrypt_secrets

log = structlog.get_logger("connmgr.checks")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A target ready to check; ``unusable`` is the result when it cannot even be tried."""

    target: CheckTarget
    tested_version: int | None = None
    secrets_version: int | None = None
    draft: dict[str, Any] | None = None
    unusable: CheckResult | None = None


def _not_found() -> Rejection:
    return Rejection(Reason.NOT_FOUND, "no such connection")


async def prepare_stored(
    connection: AsyncConnection, tenant: str, connection_id: str, keyring: Keyring
) -> Prepared | Rejection:
    state = await load_connection(connection, connection_id)
    if state is None or state.deleted or state.tenant != tenant:
        return _not_found()
    data_key = None if state.secrets is None else await get_data_key(connection, state.id)
    return prepare_state(state, data_key, keyring)


def prepare_state(
    state: ConnectionState, data_key: WrappedDataKey | None, keyring: Keyring
) -> Prepared:
    """The target of a stored connection, its secrets opened (in memory only)."""
    secrets: dict[str, str] = {}
    unusable = None
    if state.secrets is not None:
        try:
            secrets = _open_stored(state, data_key, keyring)
        except (KeyringError, InvalidTag):
            log.error("stored_secrets_unreadable", connection_id=state.id)
            unusable = CheckResult(
                Outcome.CONFIG_ERROR, "the stored secrets cannot be decrypted", 0.0
            )
    kind = Kind(state.kind)
    target = CheckTarget(
        connection_id=state.id,
        kind=kind,
        config=parse_config(kind, state.config),
        auth=stored_auth(state.auth),
        secrets=secrets,
        timeout_s=float(state.health_check.get("timeout_s", 5)),
    )
    return Prepared(target, state.version, state.secrets_version, None, unusable)


def _open_stored(
    state: ConnectionState, wrapped: WrappedDataKey | None, keyring: Keyring
) -> dict[str, str]:
    assert state.secrets is not None
    if wrapped is None:
        raise KeyringError("the connection has no data key")
    return decrypt_secrets(keyring.unwrap(wrapped, state.id), state.secrets, state.id)


def prepare_draft(
    payload: DraftTestPayload, connection_id: str, keyring: Keyring, *, allow_plaintext: bool
) -> Prepared | Rejection:
    """Validate a draft exactly as a create would be, and open its secrets in memory."""
    new = validate_new_connection(payload, connection_id, keyring, allow_plaintext=allow_plaintext)
    if isinstance(new, Rejection):
        return new
    target = CheckTarget(
        connection_id=connection_id,
        kind=new.kind,
        config=new.config,
        auth=new.auth,
        secrets=new.secrets or {},
        timeout_s=float(payload.health_check.timeout_s),
    )
    draft = {
        "name": payload.name,
        "kind": new.kind.value,
        "config": config_document(new.config),
        "auth": auth_document(new.auth),
        "secret_fields": sorted(new.secrets or {}),
    }
    return Prepared(target, draft=draft)
