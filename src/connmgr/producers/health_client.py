"""The read API's health routes for the CLI: alerts and stats.

Same conventions as ``api_client`` (whose request helper they share): a bearer
token, the parsed JSON object back, ``ApiError`` for a problem answer (404 for a
connection the token cannot see), ``ApiUnreachable`` when nothing answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

from .api_client import _get_json

ALERTS_PATH: Final = "/api/connections/health/alerts"
STATS_PATH: Final = "/api/connections/stats"


async def list_alerts(
    api_url: str,
    token: str,
    *,
    state: str | None = None,
    connection_id: UUID | str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """One page, open alerts first: ``{"items": [...], "next_cursor": str | None}``."""
    filters = {"state": state, "connection_id": connection_id, "limit": limit, "cursor": cursor}
    return await _get_json(api_url, ALERTS_PATH, token, _params(filters), timeout_s)


async def connection_stats(
    api_url: str,
    token: str,
    *,
    connection_id: UUID | str | None = None,
    window: str | None = None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Counts and per-window figures, tenant-wide or of one connection; ``window`` (``1h``,
    ``24h``, ``7d``, ``30d``) limits ``windows`` to that one."""
    filters = {"connection_id": connection_id, "window": window}
    return await _get_json(api_url, STATS_PATH, token, _params(filters), timeout_s)


def _params(filters: Mapping[str, object]) -> dict[str, str]:
    """The given filters as query parameters; None ones are left out."""
    return {name: str(value) for name, value in filters.items() if value is not None}
