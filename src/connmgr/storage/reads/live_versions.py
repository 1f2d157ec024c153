"""The live versions of a tenant's connections, read on the driver's own connections.

The API's coalesced reader asks, for every view it keeps, whether the view's version is
still the live one (``connections_by_id``): the narrow statement it sends most. Through
SQLAlchemy (a pool checkout and check-in, its execution and result layers) that
statement costs three to four times the driver's own call (``docs/scaling.md``, "Where
one API process's time goes"), so on PostgreSQL it goes on asyncpg connections kept by
this class: at most ``size`` of them, opened on first use with the engine's own URL
(host, credentials, TLS and the prepared-statement cache size it names), used one
statement at a time each, and replaced once older than the engine's pool recycles its own.

Contract (that of ``connections_by_id``): the statement is the one built there, compiled
once, so it is scoped to one tenant and leaves out deleted connections; another tenant's
connection is not found, exactly like a missing one. Each statement starts after it is
asked, so it sees every commit that completed before.

A read that finds every connection in use is not queued (``read_if_free``): the
caller sends it through SQLAlchemy's pool instead, so a round that holds many tenants'
reads (a statement each) runs them side by side as before.

A connection that fails (the server dropped it: a restart, a failover, an idle timeout)
takes the other idle ones with it, as a pool is invalidated: they share its fate. The
failure is raised as ``DatabaseUnreachable``, a ``ConnectionError`` (the API's 503), and
the next read opens a fresh connection. A statement the database refuses leaves its
connection in use and is raised as it is (a 500).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.any_of import arrays_on
from connmgr.storage.database import POOL_RECYCLE_S

SIZE: Final = 2
"""Connections kept: the API's reader has at most two rounds in flight."""

CLOSE_TIMEOUT_S: Final = 2.0
_SQLALCHEMY_ONLY: Final = ("prepared_statement_name_func", "async_fallback", "async_creator_fn")
_DROPPED: Final = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


class DatabaseUnreachable(ConnectionError):
    """The database dropped the connection or cannot be reached (a retry may succeed)."""


class LiveVersions:
    """``read(tenant, ids)``: the live version of each of the tenant's connections."""

    def __init__(
        self,
        engine: AsyncEngine,
        query: Select[Any],
        size: int = SIZE,
        recycle_s: float = POOL_RECYCLE_S,
    ) -> None:
        if size < 1 or recycle_s < 0:
            raise ValueError("size >= 1 and recycle_s >= 0 are required")
        self._recycle_s = recycle_s
        compiled = query.compile(dialect=engine.dialect)
        self._sql = compiled.string
        self._order = tuple(compiled.positiontup or ())
        self._constants = dict(compiled.params)
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._connect_args: tuple[Any, ...] = tuple(cargs)
        self._connect_params = driver_params(cparams)
        self._idle: list[tuple[asyncpg.Connection, float]] = []
        """Connections not in use, each with the loop time it was opened at."""
        self._slots = asyncio.Semaphore(size)
        self.sent = 0
        """Statements sent so far (what a test or a metric counts)."""

    @classmethod
    def on(
        cls,
        engine: AsyncEngine,
        query: Select[Any],
        *,
        size: int = SIZE,
        recycle_s: float = POOL_RECYCLE_S,
    ) -> LiveVersions | None:
        """For a PostgreSQL ``engine``; None on another backend (it reads through SQLAlchemy)."""
        return cls(engine, query, size, recycle_s) if arrays_on(engine) else None

    async def read_if_free(
        self, tenant: str, connection_ids: Sequence[str]
    ) -> dict[str, int] | None:
        """``read``, or None at once when every connection is in use (the caller then
        reads through its pool rather than wait: a round of many tenants' reads)."""
        if self._slots.locked():
            return None
        return await self.read(tenant, connection_ids)

    async def read(self, tenant: str, connection_ids: Sequence[str]) -> dict[str, int]:
        """The live version of each of ``tenant``'s connections among the ids, by id."""
        bound = {**self._constants, "connection_ids": list(connection_ids), "tenant": tenant}
        arguments = [bound[name] for name in self._order]
        async with self._slots:
            connection, opened = await self._take()
            try:
                self.sent += 1
                rows = await connection.fetch(self._sql, *arguments)
            except _DROPPED as error:
                connection.terminate()
                self._drop_idle()
                raise DatabaseUnreachable("the database connection was lost") from error
            except asyncpg.PostgresError:
                self._idle.append((connection, opened))  # the statement was refused, not it
                raise
            except BaseException:
                connection.terminate()  # cancelled mid-statement: its state is unknown
                raise
            self._idle.append((connection, opened))
        return {row["id"]: row["version"] for row in rows}

    async def close(self) -> None:
        """Close the idle connections (at shutdown; a later read opens a fresh one)."""
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            await self._close(connection)

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.terminate()

    async def _take(self) -> tuple[asyncpg.Connection, float]:
        """An idle connection opened less than ``recycle_s`` ago (as the engine's pool
        replaces older ones: idle timeouts), else a new one."""
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection, opened = self._idle.pop()
            if now - opened < self._recycle_s:
                return connection, opened
            await self._close(connection)
        try:
            connection = await asyncpg.connect(*self._connect_args, **self._connect_params)
        except _DROPPED as error:
            raise DatabaseUnreachable("the database cannot be reached") from error
        return connection, now

    @staticmethod
    async def _close(connection: asyncpg.Connection) -> None:
        try:
            await connection.close(timeout=CLOSE_TIMEOUT_S)
        except (*_DROPPED, TimeoutError):
            connection.terminate()


def driver_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's connect parameters as ``asyncpg.connect`` takes them."""
    driver = {key: value for key, value in params.items() if key not in _SQLALCHEMY_ONLY}
    if "prepared_statement_cache_size" in driver:
        driver["statement_cache_size"] = driver.pop("prepared_statement_cache_size")
    return driver
