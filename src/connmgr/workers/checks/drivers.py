"""What the database checks share: the bounded run, the login, TLS modes, closing.

A database check is ``run_check(target, config type, probe, classify)``:
``probe`` resolves, connects, authenticates, queries and closes within
``target.timeout_s``; it returns the server identity or raises. ``CheckFailed``
carries an outcome the probe recognised itself (a schema it may not use, a
server without TLS); any other exception is a failed target and goes through
the kind's ``classify`` to a fixed sentence. Nothing here reads an environment
variable, a file or a driver's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import structlog
from cryptography import x509
from cryptography.x509.oid import NameOID
from pydantic import BaseModel

from connmgr.schemas.auth import BasicAuth, MtlsAuth, NoAuth
from connmgr.schemas.kinds import MongodbConfig, MysqlConfig, PostgresConfig, RedisConfig
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.net import Stopwatch, identity_from_certificate, tls_context
from connmgr.workers.egress import IPAddress

T = TypeVar("T")
ConfigT = TypeVar("ConfigT", bound=BaseModel)
Probe = Callable[[ConfigT, CheckTarget, Stopwatch], Awaitable[ServerIdentity]]
Classifier = Callable[[BaseException], tuple[Outcome, str]]

OK_DETAIL: Final = "the server accepted the login and answered the check"
CLOSE_GRACE_S: Final = 0.25
VERSION_MAX_CHARS: Final = 128
log = structlog.get_logger("connmgr.checks")


async def run_check(
    target: CheckTarget, config_type: type[ConfigT], probe: Probe[ConfigT], classify: Classifier
) -> CheckResult:
    """Time and bound ``probe`` for ``target``; a config of another kind is a bug (raises)."""
    config = target.config
    if not isinstance(config, config_type):
        raise TypeError(f"this check needs a {config_type.__name__}")
    watch = Stopwatch()

    async def bounded() -> ServerIdentity:
        return await probe(config, target, watch)

    return await run_bounded(target.timeout_s, watch, bounded, classify)


async def run_bounded(
    timeout_s: float,
    watch: Stopwatch,
    probe: Callable[[], Awaitable[ServerIdentity]],
    classify: Classifier,
) -> CheckResult:
    """Run ``probe`` within ``timeout_s``; every failure becomes an outcome, never a raise."""
    try:
        async with asyncio.timeout(timeout_s):
            server = await probe()
    except CheckFailed as failure:
        return watch.result(failure.outcome, failure.detail)
    except Exception as error:  # a failed target, whatever the driver raised
        outcome, detail = classify(error)
        # The type only: a driver's message may quote the server or the login.
        log.debug("check_failed", outcome=outcome.value, error_type=type(error).__qualname__)
        return watch.result(outcome, detail)
    return watch.result(Outcome.OK, OK_DETAIL, server)


async def first_reachable(
    addresses: Sequence[IPAddress],
    connect: Callable[[str], Awaitable[T]],
    classify: Classifier,
) -> T:
    """``connect`` to each checked address in turn until one is not ``unreachable``."""
    for address in addresses[:-1]:
        try:
            return await connect(str(address))
        except Exception as error:
            if classify(error)[0] is not Outcome.UNREACHABLE:
                raise
    return await connect(str(addresses[-1]))


async def close_quietly(close: Callable[[], Awaitable[object]]) -> None:
    """Close within ``CLOSE_GRACE_S``; a target that will not close is simply left."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(close(), CLOSE_GRACE_S)


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
    except ValueError:
        return None
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
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


def peer_identity(stream: object, version: str | None) -> ServerIdentity:
    """Version plus, over verified TLS, the certificate of ``stream`` (transport or writer)."""
    get_extra_info = getattr(stream, "get_extra_info", None)
    certificate = get_extra_info("peercert") if callable(get_extra_info) else None
    if isinstance(certificate, dict) and certificate:
        return identity_from_certificate(certificate, version)
    return ServerIdentity(version=version)


def printable(value: object) -> str | None:
    """A server-reported string made safe to record: printable and bounded."""
    if not isinstance(value, str) or not value:
        return None
    return "".join(c for c in value if c.isprintable())[:VERSION_MAX_CHARS] or None
