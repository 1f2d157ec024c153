"""PostgreSQL check (asyncpg): log in, ``SELECT 1``, server version, optional schema use.

Contract: resolve through the egress policy, connect the driver to a checked
address with the TLS context of the ``ssl`` mode pinned to ``server_name`` or
the host, log in with the stored password, run ``SELECT 1`` and, when
``schema`` is configured, require ``USAGE`` on it; close. Phases: ``resolve``,
``connect`` (TCP, TLS and authentication: asyncpg does them in one call),
``query``. Every argument the driver needs is passed explicitly (user,
password, database, ssl, session attributes) so asyncpg never falls back to
``PG*`` environment variables, ``~/.pgpass`` or a service file.
"""

from __future__ import annotations

import ssl
from typing import ClassVar, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from connmgr.schemas.kinds import Kind, PostgresConfig
from connmgr.workers.checks import drivers
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.logins import Login
from connmgr.workers.checks.net import Stopwatch, classify
from connmgr.workers.egress import Egress

APPLICATION_NAME: Final = "connmgr-check"
SCHEMA_USAGE: Final = "SELECT has_schema_privilege(current_user, $1, 'USAGE')"


class PostgresCheck:
    kind: ClassVar[Kind] = Kind.POSTGRES

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        return await drivers.run_check(target, PostgresConfig, self._probe, classify_postgres)

    async def _probe(
        self, config: PostgresConfig, target: CheckTarget, watch: Stopwatch
    ) -> ServerIdentity:
        connection = await drivers.connect_sql(
            self._egress, config, target, watch, _connect, classify_postgres
        )
        try:
            with watch.phase("query"):
                await _query(connection, config)
            version = connection.get_settings().server_version
            return drivers.peer_identity(connection._transport, version)
        finally:
            await drivers.close_quietly(connection.close)


async def _connect(
    address: str,
    config: PostgresConfig,
    login: Login,
    tls: ssl.SSLContext | None,
    timeout_s: float,
) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=address,
        port=config.port,
        user=login.user,
        password=login.password or "",  # never None: None reads PGPASSWORD and ~/.pgpass
        database=config.database,
        ssl=tls if tls is not None else False,
        direct_tls=False,
        timeout=timeout_s,
        command_timeout=timeout_s,
        statement_cache_size=0,
        server_settings={"application_name": APPLICATION_NAME},
        target_session_attrs="any",
    )


async def _query(connection: asyncpg.Connection, config: PostgresConfig) -> None:
    if await connection.fetchval("SELECT 1") != 1:
        raise CheckFailed(Outcome.PROTOCOL_ERROR, "the server answered SELECT 1 wrongly")
    schema = config.schema_name
    if schema is not None and not await connection.fetchval(SCHEMA_USAGE, schema):
        raise CheckFailed(Outcome.PERMISSION_DENIED, "the user may not use the schema")


def classify_postgres(error: BaseException) -> tuple[Outcome, str]:
    """PostgreSQL's own failures first (by SQLSTATE class), then the common ones."""
    match error:
        case asyncpg.InvalidPasswordError():
            return Outcome.AUTH_FAILED, "the server rejected the user name or password"
        case asyncpg.InvalidAuthorizationSpecificationError():
            return Outcome.PERMISSION_DENIED, "the server does not let this user log in from here"
        case asyncpg.InsufficientPrivilegeError():
            return Outcome.PERMISSION_DENIED, "the user may not connect to the database"
        case asyncpg.InvalidCatalogNameError():
            return Outcome.CONFIG_ERROR, "the database does not exist"
        case asyncpg.InvalidSchemaNameError():
            return Outcome.CONFIG_ERROR, "the schema does not exist"
        case asyncpg.TooManyConnectionsError() | asyncpg.CannotConnectNowError():
            return Outcome.UNREACHABLE, "the server accepts no new connections now"
        case asyncpg.PostgresError() | asyncpg.InterfaceError() | asyncpg.InternalClientError():
            return Outcome.PROTOCOL_ERROR, "the server did not answer as PostgreSQL"
        case ConnectionError() if type(error) is ConnectionError:
            # asyncpg's own: the server refused or broke off the TLS upgrade.
            return Outcome.TLS_ERROR, "the server did not accept a TLS connection"
        case _:
            return classify(error)
