"""``column`` is one of many values, in one statement text whatever their number.

PostgreSQL takes the values as one array parameter (``column = ANY(:values)``): the
statement's text does not depend on how many values a call has, so asyncpg prepares
it once and the server plans it once, and a btree index takes ``= ANY`` as an index
condition on any of its columns. SQLite has no arrays: there ``IN`` is expanded to
one parameter per value when the statement runs.

A module builds its statements once per backend (``{array: build(array) for array in
BACKENDS}``) and picks one with ``arrays_on(bind)``: SQLAlchemy then reuses their
compiled form without rebuilding a cache key.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

BACKENDS: Final = (True, False)
"""The two forms a statement is built in: with array parameters, and without."""


def one_of(column: ColumnElement[Any], parameter: str, *, array: bool) -> ColumnElement[bool]:
    """``column`` equals one of the strings bound as ``parameter`` (a list)."""
    if array:
        return column == any_(bindparam(parameter, type_=ARRAY(String)))
    return column.in_(bindparam(parameter, expanding=True))


def arrays_on(bind: AsyncConnection | AsyncEngine | Connection | Engine) -> bool:
    """Whether ``bind``'s backend takes array parameters (PostgreSQL)."""
    return bind.dialect.name == "postgresql"
