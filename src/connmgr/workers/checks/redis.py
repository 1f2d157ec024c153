"""Redis check (redis.asyncio): ``AUTH``, ``SELECT``, ``PING``, ``INFO server``.

Contract: resolve through the egress policy, open one connection to a checked
address (TLS when ``tls`` is set, always verified, pinned to ``server_name`` or
the host), ``AUTH`` as the ACL user with its password (``basic``; ``none``
skips it), ``SELECT`` the configured database, ``PING``, read ``redis_version``
from ``INFO server``; close. Phases: ``resolve``, ``connect`` (TCP and TLS),
``auth``, ``query``. One attempt only: the driver's retries are off, the
timeout bounds it. The driver is given no credentials: the check sends AUTH
itself, so the phases separate and SELECT follows AUTH.
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from redis import exceptions
from redis.asyncio.connection import AbstractConnection, Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from connmgr.schemas.kinds import Kind, RedisConfig
from connmgr.workers.checks import drivers, logins
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.net import Stopwatch, classify
from connmgr.workers.egress import Egress

NOT_REDIS: Final = "the server did not answer as Redis"
# No CLIENT SETINFO: it is not part of the check, and without this redis-py (>= 7)
# reads its own package metadata from disk for every connection it makes.
_NO_CLIENT_INFO: Final[Mapping[str, Any]] = (
    {"driver_info": None}
    if "driver_info" in inspect.signature(AbstractConnection.__init__).parameters
    else {"lib_name": None, "lib_version": None}
)


class _CheckConnection(Connection):
    """One connection over TLS with the given (pinned) context, or plain; commands by hand."""

    def __init__(self, *, tls: ssl.SSLContext | None, **options: Any) -> None:
        self._tls = tls
        super().__init__(**options)

    def _connection_arguments(self) -> Mapping[str, Any]:
        arguments = dict(super()._connection_arguments())
        if self._tls is not None:
            arguments["ssl"] = self._tls
        return arguments

    def transport_stream(self) -> object:
        return self._writer

    async def command(self, *args: str | int) -> Any:
        await self.send_command(*args, check_health=False)
        return await self.read_response()


class RedisCheck:
    kind: ClassVar[Kind] = Kind.REDIS

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        return await drivers.run_check(target, RedisConfig, self._probe, classify_redis)

    async def _probe(
        self, config: RedisConfig, target: CheckTarget, watch: Stopwatch
    ) -> ServerIdentity:
        login = logins.login_of(target)
        with watch.phase("resolve"):
            addresses = await self._egress.resolve(config.host, config.port)
        tls = logins.kind_tls(config, login) if config.tls else None

        async def connect(address: str) -> _CheckConnection:
            connection = _connection(address, config, tls, target)
            await connection.connect()  # type: ignore[no-untyped-call]
            return connection

        with watch.phase("connect"):
            connection = await drivers.first_reachable(addresses, connect, classify_redis)
        try:
            if login.user is not None:
                with watch.phase("auth"):
                    await _authenticate(connection, login.user, login.password or "")
            with watch.phase("query"):
                version = await _query(connection, config)
            return drivers.peer_identity(connection.transport_stream(), version)
        finally:
            await drivers.close_quietly(connection.disconnect)


def _connection(
    address: str, config: RedisConfig, tls: ssl.SSLContext | None, target: CheckTarget
) -> _CheckConnection:
    return _CheckConnection(
        tls=tls,
        host=address,
        port=config.port,
        db=0,  # selected after AUTH: the driver would select before it
        protocol=2,
        socket_timeout=target.timeout_s,
        socket_connect_timeout=target.timeout_s,
        retry=Retry(NoBackoff(), 0),
        client_name=None,
        **_NO_CLIENT_INFO,
    )


async def _authenticate(connection: _CheckConnection, user: str, password: str) -> None:
    if _text(await connection.command("AUTH", user, password)) != "OK":
        raise CheckFailed(Outcome.PROTOCOL_ERROR, NOT_REDIS)


async def _query(connection: _CheckConnection, config: RedisConfig) -> str | None:
    if config.db:
        try:
            await connection.command("SELECT", config.db)
        except exceptions.ResponseError as error:
            if isinstance(error, exceptions.NoPermissionError):
                raise
            raise CheckFailed(Outcome.CONFIG_ERROR, "the database number does not exist") from None
    if _text(await connection.command("PING")) != "PONG":
        raise CheckFailed(Outcome.PROTOCOL_ERROR, NOT_REDIS)
    info = _text(await connection.command("INFO", "server"))
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return fields.get("redis_version")


def _text(reply: object) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply if isinstance(reply, str) else ""


def classify_redis(error: BaseException) -> tuple[Outcome, str]:
    """Redis replies first; a failed connect is classified by the socket error beneath it."""
    match error:
        case exceptions.AuthenticationError():
            return Outcome.AUTH_FAILED, "the server rejected the user name or password"
        case exceptions.NoPermissionError():
            return Outcome.PERMISSION_DENIED, "the user may not run the check's commands"
        case exceptions.TimeoutError():
            return Outcome.TIMEOUT, "the target did not answer within the timeout"
        case exceptions.ConnectionError() if isinstance(error.__context__, OSError):
            return classify(error.__context__)
        case exceptions.RedisError():
            return Outcome.PROTOCOL_ERROR, NOT_REDIS
        case _:
            return classify(error)
