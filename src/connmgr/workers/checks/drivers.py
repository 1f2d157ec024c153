"""What the database checks share: the bounded run, connecting, closing, reporting.

A database check is ``run_check(target, config type, probe, classify)``:
``probe`` resolves, connects, authenticates, queries and closes within
``target.timeout_s``; it returns the server identity or raises. ``CheckFailed``
carries an outcome the probe recognised itself (a schema it may not use, a
server without TLS); any other exception is a failed target and goes through
the kind's ``classify`` to a fixed sentence. Nothing here reads an environment
variable, a file or a driver's message. Logins and TLS modes are in ``logins``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Final, TypeVar

import structlog
from pydantic import BaseModel

from connmgr.schemas.kinds import MysqlConfig, PostgresConfig
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.logins import NEEDS_USER, Login, login_of, sql_tls
from connmgr.workers.checks.net import Stopwatch
from connmgr.workers.checks.vetted import stream_identity, version_number
from connmgr.workers.egress import Egress, IPAddress

T = TypeVar("T")
ConfigT = TypeVar("ConfigT", bound=BaseModel)
Probe = Callable[[ConfigT, CheckTarget, Stopwatch], Awaitable[ServerIdentity]]
SqlConfigT = TypeVar("SqlConfigT", PostgresConfig, MysqlConfig)
Classifier = Callable[[BaseException], tuple[Outcome, str]]
SqlConnect = Callable[[str, SqlConfigT, Login, ssl.SSLContext | None, float], Awaitable[T]]

OK_DETAIL: Final = "the server accepted the login and answered the check"
CLOSE_GRACE_S: Final = 0.25
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


async def connect_sql(
    egress: Egress,
    config: SqlConfigT,
    target: CheckTarget,
    watch: Stopwatch,
    connect: SqlConnect[SqlConfigT, T],
    classify: Classifier,
) -> T:
    """Resolve, then ``connect`` to the first reachable checked address as the login's user.

    A login without a user name is a ``config_error``; the TLS context is the
    one of the config's ``ssl`` mode.
    """
    login = login_of(target)
    if login.user is None:
        raise CheckFailed(Outcome.CONFIG_ERROR, NEEDS_USER)
    with watch.phase("resolve"):
        addresses = await egress.resolve(config.host, config.port)
    tls = sql_tls(config, login)

    async def connect_to(address: str) -> T:
        return await connect(address, config, login, tls, target.timeout_s)

    with watch.phase("connect"):
        return await first_reachable(addresses, connect_to, classify)


async def close_quietly(close: Callable[[], Awaitable[object]]) -> None:
    """Close within ``CLOSE_GRACE_S``; a target that will not close is simply left."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(close(), CLOSE_GRACE_S)


def peer_identity(stream: object, reported_version: object) -> ServerIdentity:
    """The version number the server reported (``vetted.version_number``: nothing else
    of its text) plus, over verified TLS, the certificate of ``stream`` (transport
    or writer) in fixed forms."""
    version = version_number(reported_version)
    identity = stream_identity(stream)
    return replace(identity, version=version) if identity else ServerIdentity(version=version)
