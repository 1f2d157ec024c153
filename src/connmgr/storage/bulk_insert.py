"""Many rows of one table in one statement: ``COPY`` on PostgreSQL, ``INSERT`` elsewhere.

A batch of the write path inserts hundreds of rows into each of a few tables. As an
``INSERT`` with many parameter sets, PostgreSQL runs the statement once per row
(bind, execute, each row its own executor start) and SQLAlchemy builds each row's
parameters in Python; ``COPY … FROM STDIN`` (binary, through asyncpg) sends the rows
as one stream the server loads in a single pass. It is what the write path's floor
does (issue 15).

Both forms are the same to a caller. The rows are written inside the caller's
transaction (and savepoint), and stored byte for byte as the ``INSERT`` stores them:
each value goes through its column type's own bind processing for the dialect (a JSON
document through the engine's encoder, ``None`` as JSON ``null``). A refusal raises
what the ``INSERT`` raises: ``IntegrityError`` for a broken key or constraint,
``DataError`` for a value its column cannot take, ``DBAPIError`` for anything else,
so a savepoint rolls back and a caller catches what it caught before. Rows written as a
transaction's first statement are that transaction's too (the adapter begins the
server's transaction lazily: see ``insert_rows``). Every row gives
the same columns; a column no row names takes its default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from sqlalchemy import Dialect, Table, insert, literal, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_rows"]


async def insert_rows(
    connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (each with the same keys) into ``table``."""
    if not rows:
        return
    if connection.dialect.driver != "asyncpg":
        await connection.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    encoders = [_encoder(table, name, connection.dialect) for name in columns]
    records = [
        tuple(encode(row[name]) for name, encode in zip(columns, encoders, strict=True))
        for row in rows
    ]
    fairy = await connection.get_raw_connection()
    driver: asyncpg.Connection = fairy.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter begins the server's transaction at its first
        # statement: as a transaction's first, COPY would be committed on its own.
        await connection.execute(select(literal(1)))
    try:
        await driver.copy_records_to_table(
            table.name, records=records, columns=columns, schema_name=table.schema
        )
    except (asyncpg.PostgresError, TypeError, ValueError, OverflowError) as error:
        raise _as_sqlalchemy_error(f"COPY {table.name} ({', '.join(columns)})", error) from error


def _as_sqlalchemy_error(statement: str, error: Exception) -> DBAPIError:
    """The error SQLAlchemy raises for the same refusal of an ``INSERT``: a broken key or
    constraint, a value its column cannot take (``COPY`` encodes the rows before sending
    them, so that comes as a Python error), anything else the server refuses."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(statement, None, error)
    if isinstance(error, asyncpg.DataError | TypeError | ValueError | OverflowError):
        return DataError(statement, None, error)
    return DBAPIError(statement, None, error)


def _encoder(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any]:
    """What the ``INSERT`` would send for a value of column ``name``."""
    column_type = table.c[name].type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return _unchanged if process is None else process


def _unchanged(value: Any) -> Any:
    return value
