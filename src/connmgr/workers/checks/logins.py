"""Who a database check logs in as, and the TLS context it connects with.

``login_of`` reads the connection's auth method (``basic``, ``mtls`` with the
certificate's common name as user, or ``none``); a missing secret or another
method is a ``CheckFailed(CONFIG_ERROR)``. ``kind_tls`` and ``sql_tls`` build
the client context pinned to ``server_name`` or the host.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from connmgr.schemas.connection_auth import BasicAuth, MtlsAuth, NoAuth
from connmgr.schemas.kinds import MongodbConfig, MysqlConfig, PostgresConfig, RedisConfig
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.net import tls_context


@dataclass(frozen=True, slots=True)
class Login:
    """Who the check logs in as; the secret fields never appear in a repr."""

    user: str | None
    password: str | None = field(default=None, repr=False)
    client_cert_pem: str | None = field(default=None, repr=False)
    client_key_pem: str | None = field(default=None, repr=False)


MISSING_SECRET: Final = "a secret this auth method needs is missing"
NEEDS_USER: Final = (
    "this kind needs a user name: use basic auth, or mtls with a certificate"
    " whose common name is the user"
)


def login_of(target: CheckTarget) -> Login:
    """The login for ``basic``, ``mtls`` (user = certificate common name) or ``none``."""
    secrets = target.secrets
    match target.auth:
        case BasicAuth(username=username):
            if "password" not in secrets:
                raise CheckFailed(Outcome.CONFIG_ERROR, MISSING_SECRET)
            return Login(username, secrets["password"])
        case MtlsAuth():
            cert, key = secrets.get("client_cert_pem"), secrets.get("client_key_pem")
            if not cert or not key:
                raise CheckFailed(Outcome.CONFIG_ERROR, MISSING_SECRET)
            return Login(common_name(cert), None, cert, key)
        case NoAuth():
            return Login(None)
        case _:
            raise CheckFailed(Outcome.CONFIG_ERROR, "this auth method is not supported here")


def common_name(certificate_pem: str) -> str | None:
    """The subject common name of a PEM certificate, or None when it has none or is invalid."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        # The subject is decoded on first use: a name that is not text raises here.
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, TypeError):
        return None
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def kind_tls(
    config: PostgresConfig | MysqlConfig | MongodbConfig | RedisConfig,
    login: Login,
    *,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client context pinned to ``server_name`` or the host, with ``ca_pem`` and the
    login's client certificate (``mtls``)."""
    return tls_context(
        server_hostname=config.server_name or config.host,
        ca_pem=config.ca_pem,
        client_cert_pem=login.client_cert_pem,
        client_key_pem=login.client_key_pem,
        verify=verify,
    )


def sql_tls(config: PostgresConfig | MysqlConfig, login: Login) -> ssl.SSLContext | None:
    """The client context of an SQL ``ssl`` mode.

    ``disable``: no TLS. ``require``: TLS without verification (the user's explicit
    choice). ``verify-ca``: the chain, not the name. ``verify-full``: both.
    """
    if config.ssl == "disable":
        return None
    context = kind_tls(config, login, verify=config.ssl != "require")
    if config.ssl == "verify-ca":
        context.check_hostname = False
    return context
