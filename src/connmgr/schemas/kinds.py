"""Connection kinds and the typed configuration each accepts.

Each kind takes a fixed set of typed fields; anything else is rejected: no raw
DSNs, driver option strings, file or socket paths (``docs/security.md``,
"Options are allowed, not blocked").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, StringConstraints

from connmgr.schemas.fields import (
    STRICT_MODEL,
    HeaderName,
    Hostname,
    HttpUrl,
    Identifier,
    PemText,
    Port,
    ShortText,
    UrlPath,
)


class Kind(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    MONGODB = "mongodb"
    REDIS = "redis"
    HTTP = "http"
    WEBHOOK = "webhook"
    S3 = "s3"
    SMTP = "smtp"
    IMAP = "imap"
    TCP = "tcp"


SqlSslMode = Literal["disable", "require", "verify-ca", "verify-full"]


class _KindConfig(BaseModel):
    model_config = STRICT_MODEL

    def target(self) -> tuple[str, int | None]:
        """Host and port a secret is sent to: changing either re-asks for secrets."""
        host: str = getattr(self, "host")  # noqa: B009 - every host/port kind has both
        port: int = getattr(self, "port")  # noqa: B009
        return (host, port)


def _url_target(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port)


class _TlsTarget(_KindConfig):
    """TLS is verified whenever it is used; ``ca_pem`` adds a trust anchor."""

    ca_pem: PemText | None = None
    server_name: Hostname | None = None


class PostgresConfig(_TlsTarget):
    host: Hostname
    port: Port = 5432
    database: Identifier
    ssl: SqlSslMode = "verify-full"
    schema_name: Identifier | None = Field(default=None, alias="schema")


class MysqlConfig(_TlsTarget):
    host: Hostname
    port: Port = 3306
    database: Identifier | None = None
    ssl: SqlSslMode = "verify-full"


class MongodbConfig(_TlsTarget):
    host: Hostname
    port: Port = 27017
    database: Identifier = "admin"
    tls: bool = True
    auth_source: Identifier | None = None
    replica_set: Identifier | None = None


class RedisConfig(_TlsTarget):
    host: Hostname
    port: Port = 6379
    db: Annotated[int, Field(ge=0, le=1023)] = 0
    tls: bool = False


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class HttpTestRequest(_KindConfig):
    method: HttpMethod = "GET"
    path: UrlPath = "/"
    expected_status: Annotated[int, Field(ge=100, le=599)] = 200
    json_path: Annotated[str, StringConstraints(max_length=256)] | None = None
    body_contains: ShortText | None = None


class HttpConfig(_TlsTarget):
    base_url: HttpUrl
    test: HttpTestRequest = Field(default_factory=HttpTestRequest)
    headers: dict[HeaderName, ShortText] = Field(default_factory=dict, max_length=32)

    def target(self) -> tuple[str, int | None]:
        return _url_target(self.base_url)


class WebhookConfig(_TlsTarget):
    url: HttpUrl
    signature_header: HeaderName = "X-Connmgr-Signature"

    def target(self) -> tuple[str, int | None]:
        return _url_target(self.url)


class S3Config(_TlsTarget):
    bucket: Annotated[str, StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9.-]+$")]
    region: Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9-]*$")] = "us-east-1"
    endpoint_url: HttpUrl | None = None
    addressing_style: Literal["path", "virtual"] = "virtual"
    list_objects: bool = False

    def target(self) -> tuple[str, int | None]:
        if self.endpoint_url is None:
            return (f"{self.bucket}.s3.{self.region}.amazonaws.com", None)
        return _url_target(self.endpoint_url)


class SmtpConfig(_TlsTarget):
    host: Hostname
    port: Port = 587
    security: Literal["starttls", "implicit", "none"] = "starttls"


class ImapConfig(_TlsTarget):
    host: Hostname
    port: Port = 993
    security: Literal["implicit", "starttls", "none"] = "implicit"
    mailbox: ShortText | None = None


class TcpConfig(_TlsTarget):
    host: Hostname
    port: Port
    tls: bool = False
    expect_banner: ShortText | None = None


KindConfig = (
    PostgresConfig
    | MysqlConfig
    | MongodbConfig
    | RedisConfig
    | HttpConfig
    | WebhookConfig
    | S3Config
    | SmtpConfig
    | ImapConfig
    | TcpConfig
)

CONFIG_MODELS: dict[Kind, type[KindConfig]] = {
    Kind.POSTGRES: PostgresConfig,
    Kind.MYSQL: MysqlConfig,
    Kind.MONGODB: MongodbConfig,
    Kind.REDIS: RedisConfig,
    Kind.HTTP: HttpConfig,
    Kind.WEBHOOK: WebhookConfig,
    Kind.S3: S3Config,
    Kind.SMTP: SmtpConfig,
    Kind.IMAP: ImapConfig,
    Kind.TCP: TcpConfig,
}


def parse_config(kind: Kind, raw: dict[str, Any]) -> KindConfig:
    """Validate ``raw`` against the kind's model; raises ``pydantic.ValidationError``."""
    return CONFIG_MODELS[kind].model_validate(raw, strict=True, by_alias=True)


def config_document(config: KindConfig) -> dict[str, Any]:
    """The stored JSON form of a validated config (aliases, defaults included)."""
    return config.model_dump(mode="json", by_alias=True)
