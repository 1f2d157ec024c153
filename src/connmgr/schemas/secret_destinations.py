"""Which fields decide where, or how, a stored secret is sent.

The rule and its reasons: docs/decisions.md, "What moves a stored secret".

An update that changes any of them without sending the secrets again is refused
(``secrets_required``): a stored secret must never reach a new party, travel a
weaker channel, or be used to sign other claims. One table per concern, read as
a routing table; ``moved_fields`` applies them.

- ``DESTINATION_FIELDS``: per kind, the config fields that name the receiving
  party (host, port, URL, S3 endpoint and the bucket/region/style that make its
  host). Any change moves the secret.
- ``TLS_FIELDS``: per kind, the fields that decide the channel. ``ca_pem`` and
  ``server_name`` (trust anchors, the name verified) move the secret on any
  change; a ranked field (``ssl``, ``tls``, ``security``) only when the new value
  does not rank strictly higher: only a strict strengthening is harmless.
- ``AUTH_FIELDS``: per auth method, the non-secret fields that decide how the
  secret is presented or what it signs: the identity (username, client id,
  consumer key and token), OAuth2's token URL, scopes and audience (sent with the
  client secret), an API key's placement and name, custom header names, and
  everything a JWT signed with the stored key asserts (algorithm, issuer,
  subject, audience, claims).

Harmless fields (name, tags, description, health check, database, HTTP test
request, static headers, …) change freely. A change of kind or auth method
always moves the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connmgr.schemas.kinds import Kind

_TLS_ANCHORS: Final = ("ca_pem", "server_name")

DESTINATION_FIELDS: Final[Mapping[Kind, tuple[str, ...]]] = {
    Kind.POSTGRES: ("host", "port"),
    Kind.MYSQL: ("host", "port"),
    Kind.MONGODB: ("host", "port", "replica_set"),
    Kind.REDIS: ("host", "port"),
    Kind.HTTP: ("base_url",),
    Kind.WEBHOOK: ("url",),
    Kind.S3: ("endpoint_url", "bucket", "region", "addressing_style"),
    Kind.SMTP: ("host", "port"),
    Kind.IMAP: ("host", "port"),
    Kind.TCP: ("host", "port"),
}

_SQL_SSL: Final = ("disable", "require", "verify-ca", "verify-full")
_TLS_ON: Final = (False, True)
_MAIL_SECURITY: Final[Mapping[object, int]] = {"none": 0, "starttls": 1, "implicit": 1}
"""STARTTLS and implicit TLS rank alike: switching between them is a change of channel."""


def _ranks(values: tuple[object, ...]) -> Mapping[object, int]:
    return {value: rank for rank, value in enumerate(values)}


TLS_FIELDS: Final[Mapping[Kind, Mapping[str, Mapping[object, int]]]] = {
    Kind.POSTGRES: {"ssl": _ranks(_SQL_SSL)},
    Kind.MYSQL: {"ssl": _ranks(_SQL_SSL)},
    Kind.MONGODB: {"tls": _ranks(_TLS_ON)},
    Kind.REDIS: {"tls": _ranks(_TLS_ON)},
    Kind.HTTP: {},
    Kind.WEBHOOK: {},
    Kind.S3: {},
    Kind.SMTP: {"security": _MAIL_SECURITY},
    Kind.IMAP: {"security": _MAIL_SECURITY},
    Kind.TCP: {"tls": _ranks(_TLS_ON)},
}
"""Per kind, each ranked channel field and the rank of its values. Every kind also
has the trust-anchor fields ``ca_pem`` and ``server_name``."""

AUTH_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "none": (),
    "api_key": ("placement", "name"),
    "bearer": (),
    "basic": ("username",),
    "oauth2": ("token_url", "client_id", "scopes", "audience"),
    "oauth1": ("consumer_key", "token"),
    "custom_headers": ("header_names",),
    "mtls": (),
    "jwt": ("algorithm", "issuer", "subject", "audience", "claims"),
}


def moved_fields(
    before: tuple[Kind, Mapping[str, Any], Mapping[str, Any]],
    after: tuple[Kind, Mapping[str, Any], Mapping[str, Any]],
) -> list[str]:
    """The fields (``config.<name>``, ``auth.<name>``, ``kind``, ``auth.method``) whose
    change would send a stored secret elsewhere or otherwise; each side is
    ``(kind, config document, auth document)`` with defaults filled in."""
    (old_kind, old_config, old_auth), (kind, config, auth) = before, after
    if kind is not old_kind:
        return ["kind"]
    moved = [
        f"config.{name}"
        for name in (*DESTINATION_FIELDS[kind], *_TLS_ANCHORS)
        if config.get(name) != old_config.get(name)
    ]
    for name, ranks in TLS_FIELDS[kind].items():
        if _weakened_or_changed(old_config.get(name), config.get(name), ranks):
            moved.append(f"config.{name}")
    if auth.get("method") != old_auth.get("method"):
        return [*moved, "auth.method"]
    fields = AUTH_FIELDS[str(auth.get("method"))]
    return moved + [f"auth.{name}" for name in fields if auth.get(name) != old_auth.get(name)]


def _weakened_or_changed(old: object, new: object, ranks: Mapping[object, int]) -> bool:
    """Any change but a strict strengthening (an unranked value counts as weakest)."""
    if old == new:
        return False
    return ranks.get(new, -1) <= ranks.get(old, -1)
