"""Validating what a command brings: config for its kind, auth method, secrets.

Each function returns the validated value or a ``Rejection``; none raises on bad
input and no error names a secret value.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from connmgr.schemas.auth import ALLOWED_METHODS, Auth, secret_fields
from connmgr.schemas.commands import PlaintextSecrets, SealedSecrets, SecretsInput
from connmgr.schemas.kinds import Kind, KindConfig, parse_config
from connmgr.schemas.outcomes import FieldError, Reason, Rejection, field_errors
from connmgr.schemas.sealed import UnsealError, open_secrets
from connmgr.workers.keyring import Keyring

_AUTH: TypeAdapter[Auth] = TypeAdapter(Auth)


def validate_config(kind: Kind, raw: dict[str, Any]) -> KindConfig | Rejection:
    try:
        return parse_config(kind, raw)
    except ValidationError as error:
        return Rejection(
            Reason.INVALID_CONFIG,
            f"the config is not valid for kind {kind.value}",
            field_errors(error, prefix="payload.config"),
        )


def validate_auth(kind: Kind, auth: Auth) -> Auth | Rejection:
    if auth.method not in ALLOWED_METHODS[kind]:
        return Rejection(
            Reason.AUTH_NOT_ALLOWED,
            f"auth method {auth.method} is not available for kind {kind.value}",
            [FieldError(field="payload.auth.method", message="not allowed for this kind")],
        )
    return auth


def stored_auth(document: dict[str, Any]) -> Auth:
    return _AUTH.validate_python(document)


def auth_document(auth: Auth) -> dict[str, Any]:
    document: dict[str, Any] = _AUTH.dump_python(auth, mode="json")
    return document


def open_secrets_input(
    secrets: SecretsInput, connection_id: str, keyring: Keyring, *, allow_plaintext: bool
) -> dict[str, str] | Rejection:
    """Unseal (or, where allowed, accept plaintext) secrets for one connection."""
    if isinstance(secrets, PlaintextSecrets):
        if not allow_plaintext:
            return Rejection(
                Reason.PLAINTEXT_NOT_ALLOWED,
                "plaintext secrets are refused here; seal them to the published seal key",
                [FieldError(field="payload.secrets", message="must be sealed")],
            )
        return dict(secrets.plaintext)
    return _unseal(secrets, connection_id, keyring)


def _unseal(
    secrets: SealedSecrets, connection_id: str, keyring: Keyring
) -> dict[str, str] | Rejection:
    private_key = keyring.seal_private_key(secrets.key_id)
    if private_key is None:
        return Rejection(
            Reason.UNKNOWN_SEAL_KEY,
            "the secrets are sealed to a key this deployment does not hold; fetch it again",
            [FieldError(field="payload.secrets.key_id", message="unknown seal key")],
        )
    try:
        return open_secrets(secrets.sealed, private_key, connection_id)
    except UnsealError:
        return Rejection(
            Reason.INVALID_SEALED_SECRETS,
            "the sealed secrets cannot be opened for this connection",
            [FieldError(field="payload.secrets.sealed", message="cannot be opened")],
        )


def check_secret_fields(kind: Kind, auth: Auth, secrets: dict[str, str]) -> Rejection | None:
    """The secrets must hold every required field of the auth method and nothing else."""
    expected = secret_fields(auth, kind)
    missing = sorted(expected.required - {k for k, v in secrets.items() if v})
    unknown = sorted(set(secrets) - expected.allowed)
    errors = [FieldError(field=f"secrets.{name}", message="is required") for name in missing]
    errors += [
        FieldError(field=f"secrets.{name[:64]}", message="is not used by this auth method")
        for name in unknown
    ]
    if errors:
        return Rejection(
            Reason.INVALID_SECRETS, "the secrets do not match the auth method", errors[:20]
        )
    return None
