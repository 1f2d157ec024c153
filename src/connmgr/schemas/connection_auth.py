"""Connection auth methods: how a check logs in to its target (not the API's tokens).

Each method's non-secret fields, and the names of the secret fields it needs.

The secret values themselves never appear here: they travel sealed (see ``sealed``)
and are stored encrypted. ``secret_fields`` tells the encryptor which keys the
unsealed secrets object must hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from connmgr.schemas.fields import STRICT_MODEL, HeaderName, HttpUrl, ShortText
from connmgr.schemas.kinds import Kind

Username = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Scope = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")]


class _Auth(BaseModel):
    model_config = STRICT_MODEL


class NoAuth(_Auth):
    method: Literal["none"] = "none"


class ApiKeyAuth(_Auth):
    method: Literal["api_key"] = "api_key"
    placement: Literal["header", "query"] = "header"
    name: HeaderName = "X-API-Key"


class BearerAuth(_Auth):
    method: Literal["bearer"] = "bearer"


class BasicAuth(_Auth):
    method: Literal["basic"] = "basic"
    username: Username


class OAuth2Auth(_Auth):
    """Client credentials; a stored ``refresh_token`` secret is used when present."""

    method: Literal["oauth2"] = "oauth2"
    token_url: HttpUrl
    client_id: Username
    scopes: list[Scope] = Field(default_factory=list, max_length=32)
    audience: ShortText | None = None


class OAuth1Auth(_Auth):
    """RFC 5849 HMAC-SHA1 request signing."""

    method: Literal["oauth1"] = "oauth1"
    consumer_key: Username
    token: Username | None = None


class CustomHeadersAuth(_Auth):
    """Secret header values, one secret field per header name."""

    method: Literal["custom_headers"] = "custom_headers"
    header_names: list[HeaderName] = Field(min_length=1, max_length=16)


class MtlsAuth(_Auth):
    method: Literal["mtls"] = "mtls"


class JwtAuth(_Auth):
    """A JWT signed by connmgr with a stored key, sent as a bearer token."""

    method: Literal["jwt"] = "jwt"
    algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    issuer: ShortText | None = None
    subject: ShortText | None = None
    audience: ShortText | None = None
    ttl_s: Annotated[int, Field(ge=10, le=86400)] = 300
    claims: dict[Annotated[str, StringConstraints(max_length=64)], ShortText] = Field(
        default_factory=dict, max_length=32
    )


Auth = Annotated[
    NoAuth
    | ApiKeyAuth
    | BearerAuth
    | BasicAuth
    | OAuth2Auth
    | OAuth1Auth
    | CustomHeadersAuth
    | MtlsAuth
    | JwtAuth,
    Field(discriminator="method"),
]


@dataclass(frozen=True, slots=True)
class SecretFields:
    required: frozenset[str]
    optional: frozenset[str] = frozenset()

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


def secret_fields(auth: _Auth, kind: Kind) -> SecretFields:
    """The secret field names an auth method needs for a kind."""
    kind_optional = frozenset({"signing_secret"}) if kind is Kind.WEBHOOK else frozenset()
    match auth:
        case NoAuth():
            fields = SecretFields(frozenset())
        case ApiKeyAuth():
            fields = SecretFields(frozenset({"api_key"}))
        case BearerAuth():
            fields = SecretFields(frozenset({"token"}))
        case BasicAuth():
            fields = SecretFields(frozenset({"password"}))
        case OAuth2Auth():
            fields = SecretFields(frozenset({"client_secret"}), frozenset({"refresh_token"}))
        case OAuth1Auth():
            fields = SecretFields(frozenset({"consumer_secret"}), frozenset({"token_secret"}))
        case CustomHeadersAuth(header_names=names):
            fields = SecretFields(frozenset(names))
        case MtlsAuth():
            fields = SecretFields(frozenset({"client_cert_pem", "client_key_pem"}))
        case JwtAuth():
            fields = SecretFields(frozenset({"signing_key"}))
        case _:
            raise TypeError(f"unknown auth model {type(auth).__name__}")
    return SecretFields(fields.required, fields.optional | kind_optional)


_HTTP_METHODS = frozenset(
    {"none", "api_key", "bearer", "basic", "oauth2", "oauth1", "custom_headers", "mtls", "jwt"}
)
_LOGIN_METHODS = frozenset({"none", "basic"})

ALLOWED_METHODS: dict[Kind, frozenset[str]] = {
    Kind.POSTGRES: _LOGIN_METHODS | {"mtls"},
    Kind.MYSQL: _LOGIN_METHODS | {"mtls"},
    Kind.MONGODB: _LOGIN_METHODS | {"mtls"},
    Kind.REDIS: _LOGIN_METHODS,
    Kind.HTTP: _HTTP_METHODS,
    Kind.WEBHOOK: _HTTP_METHODS,
    Kind.S3: frozenset({"basic"}),
    Kind.SMTP: _LOGIN_METHODS,
    Kind.IMAP: frozenset({"basic"}),
    Kind.TCP: frozenset({"none", "mtls"}),
}
