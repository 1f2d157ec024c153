"""Validating what a command brings: config for its kind, auth method, secrets.

Each function returns the validated value or a ``Rejection``; none raises on bad
input and no error names a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from connmgr.schemas.commands import CreatePayload, PlaintextSecrets, SealedSecrets, SecretsInput
from connmgr.schemas.connection_auth import ALLOWED_METHODS, Auth, secret_fields
from connmgr.schemas.kinds import Kind, KindConfig, parse_config
from connmgr.schemas.outcomes import FieldError, Reason, Rejection, field_errors
from connmgr.schemas.recipients import NotifySettings
from connmgr.schemas.sealed import UnsealError, open_secrets
from connmgr.schemas.templates import apply_template, get_template
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


def validate_notify(kind: Kind, notify: NotifySettings) -> dict[str, Any] | Rejection | None:
    """The ``notify`` document to store (None: no recipients), or why not: only an
    ``smtp`` connection mails, so no other kind takes recipients or a sender."""
    if notify.empty:
        return None
    if kind is not Kind.SMTP:
        return Rejection(
            Reason.INVALID_RECIPIENTS,
            f"kind {kind.value} sends no mail: only smtp connections have e-mail recipients",
            [FieldError(field="payload.notify", message="only for kind smtp")],
        )
    return notify.model_dump(mode="json")


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


def with_template(payload: CreatePayload) -> tuple[dict[str, Any], Auth] | Rejection:
    """The config and auth after the payload's template (if any) filled the gaps."""
    if payload.template is None:
        return payload.config, payload.auth
    template = get_template(payload.template)
    if template is None:
        return Rejection(
            Reason.UNKNOWN_TEMPLATE,
            f"template {payload.template} is not in the catalogue",
            [FieldError(field="payload.template", message="unknown template")],
        )
    if template.kind != payload.kind:
        return Rejection(
            Reason.INVALID_CONFIG,
            f"template {template.id} is for kind {template.kind.value}",
            [FieldError(field="payload.kind", message="does not match the template")],
        )
    given = "auth" in payload.model_fields_set
    user_auth = payload.auth.model_dump(mode="json", exclude_unset=True) if given else None
    _, config, auth_document_ = apply_template(template, payload.config, user_auth)
    try:
        return config, _AUTH.validate_python(auth_document_, strict=True)
    except ValidationError as error:
        return Rejection(
            Reason.INVALID_COMMAND,
            "the auth does not complete the template's",
            field_errors(error, prefix="payload.auth"),
        )


@dataclass(frozen=True, slots=True)
class NewConnection:
    """A create payload, validated: typed config and auth, secrets opened and checked."""

    kind: Kind
    config: KindConfig
    auth: Auth
    secrets: dict[str, str] | None = field(repr=False)


def secrets_required(message: str) -> Rejection:
    return Rejection(
        Reason.SECRETS_REQUIRED,
        message,
        [FieldError(field="payload.secrets", message="is required")],
    )


def validate_new_connection(
    payload: CreatePayload, connection_id: str, keyring: Keyring, *, allow_plaintext: bool
) -> NewConnection | Rejection:
    """Everything a create (or a draft test) must pass before anything is stored or sent."""
    resolved = with_template(payload)
    if isinstance(resolved, Rejection):
        return resolved
    raw_config, raw_auth = resolved
    config = validate_config(payload.kind, raw_config)
    if isinstance(config, Rejection):
        return config
    auth = validate_auth(payload.kind, raw_auth)
    if isinstance(auth, Rejection):
        return auth
    if payload.secrets is None:
        if secret_fields(auth, payload.kind).required:
            return secrets_required(f"auth method {auth.method} needs secrets")
        return NewConnection(payload.kind, config, auth, None)
    opened = open_secrets_input(
        payload.secrets, connection_id, keyring, allow_plaintext=allow_plaintext
    )
    if isinstance(opened, Rejection):
        return opened
    if (problem := check_secret_fields(payload.kind, auth, opened)) is not None:
        return problem
    return NewConnection(payload.kind, config, auth, opened)
