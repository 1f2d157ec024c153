"""MySQL and MariaDB check (aiomysql): log in, ``SELECT VERSION()``.

Contract: resolve through the egress policy, connect to a checked address with
the TLS context of the ``ssl`` mode pinned to ``server_name`` or the host, log
in (into ``database`` when configured), run ``SELECT VERSION()``, close.
Phases: ``resolve``, ``connect`` (TCP, TLS and authentication: the driver does
them in one exchange), ``query``.

aiomysql is hardened where it is lenient: ``LOAD DATA LOCAL`` stays off (no
``local_infile``, no ``LOCAL_FILES`` capability, no option file, no init
command), a server that does not offer TLS when the mode asks for it is left
before any credential is sent (aiomysql would silently continue in clear), and
a password is never sent in clear text (``mysql_clear_password``) without TLS.
"""

from __future__ import annotations

import ssl
from typing import Any, ClassVar, Final

import aiomysql
from pymysql.constants import CLIENT, ER  # type: ignore[import-untyped]  # no type information

from connmgr.schemas.kinds import Kind, MysqlConfig
from connmgr.workers.checks import drivers
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.logins import Login
from connmgr.workers.checks.net import Stopwatch, classify
from connmgr.workers.egress import Egress

NO_TLS: Final = "the server does not offer TLS"
CLEARTEXT: Final = "the server asks for the password in clear text without TLS"
_ERRORS: Final[dict[int, tuple[Outcome, str]]] = {
    ER.ACCESS_DENIED_ERROR: (Outcome.AUTH_FAILED, "the server rejected the user name or password"),
    ER.DBACCESS_DENIED_ERROR: (Outcome.PERMISSION_DENIED, "the user may not use the database"),
    ER.BAD_DB_ERROR: (Outcome.CONFIG_ERROR, "the database does not exist"),
    ER.HOST_NOT_PRIVILEGED: (Outcome.PERMISSION_DENIED, "the server refuses this client host"),
    ER.CON_COUNT_ERROR: (Outcome.UNREACHABLE, "the server accepts no new connections now"),
}


class _GuardedConnection(aiomysql.Connection):  # type: ignore[misc]  # untyped base
    """aiomysql's connection with the checks above run before credentials leave."""

    async def _request_authentication(self) -> None:
        if self._ssl_context is not None and not self.server_capabilities & CLIENT.SSL:
            raise CheckFailed(Outcome.TLS_ERROR, NO_TLS)
        if self._ssl_context is None and self._server_auth_plugin == "mysql_clear_password":
            raise CheckFailed(Outcome.CONFIG_ERROR, CLEARTEXT)
        await super()._request_authentication()

    async def _process_auth(self, plugin_name: bytes, auth_packet: Any) -> Any:
        if plugin_name == b"mysql_clear_password" and not self._secure:
            raise CheckFailed(Outcome.CONFIG_ERROR, CLEARTEXT)
        return await super()._process_auth(plugin_name, auth_packet)


class MysqlCheck:
    kind: ClassVar[Kind] = Kind.MYSQL

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        return await drivers.run_check(target, MysqlConfig, self._probe, classify_mysql)

    async def _probe(
        self, config: MysqlConfig, target: CheckTarget, watch: Stopwatch
    ) -> ServerIdentity:
        connection = await drivers.connect_sql(
            self._egress, config, target, watch, _connect, classify_mysql
        )
        try:
            with watch.phase("query"):
                async with connection.cursor() as cursor:
                    await cursor.execute("SELECT VERSION()")
                    row = await cursor.fetchone()
            return drivers.peer_identity(connection._writer, row[0] if row else None)
        finally:
            await drivers.close_quietly(connection.ensure_closed)


def connection_options(
    address: str, config: MysqlConfig, login: Login, tls: ssl.SSLContext | None, timeout_s: float
) -> dict[str, Any]:
    """Every option the driver gets: nothing that reads files or lets the server do so."""
    return {
        "host": address,
        "port": config.port,
        "user": login.user,
        "password": login.password or "",
        "db": config.database,
        "ssl": tls,
        "connect_timeout": timeout_s,
        "local_infile": False,
        "client_flag": 0,
        "read_default_file": None,
        "init_command": None,
        "autocommit": None,
        "program_name": "connmgr-check",
    }


async def _connect(
    address: str, config: MysqlConfig, login: Login, tls: ssl.SSLContext | None, timeout_s: float
) -> Any:
    connection = _GuardedConnection(**connection_options(address, config, login, tls, timeout_s))
    await connection._connect()
    return connection


def classify_mysql(error: BaseException) -> tuple[Outcome, str]:
    """Server error codes first, then the socket failure aiomysql wrapped, then the common ones."""
    if isinstance(error, aiomysql.MySQLError):
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        if code in _ERRORS:
            return _ERRORS[code]
        if isinstance(error.__cause__, OSError):
            return classify(error.__cause__)
        return Outcome.PROTOCOL_ERROR, "the server did not answer as MySQL"
    return classify(error)
