"""The conditions that keep a read of samples or roll-ups to one tenant.

Every read of the statistics routes (``sample_history``, ``sample_stats``) is scoped
to the caller's tenant: another tenant's rows are invisible, exactly like rows that
do not exist. The tables of samples, roll-ups and packed blocks all carry ``tenant``
and ``connection_id``, so one helper writes the scope for each of them, the same way.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table

__all__ = ["tenant_scope"]


def tenant_scope(table: Table, tenant: str, connection_id: str | None) -> list[ColumnElement[bool]]:
    """The conditions keeping a query to the tenant's rows (and the connection's, if given)."""
    conditions = [table.c.tenant == tenant]
    if connection_id is not None:
        conditions.append(table.c.connection_id == connection_id)
    return conditions
