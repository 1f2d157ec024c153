"""A tiny client of the read API: list connections, show one.

Each call sends ``Authorization: Bearer <token>`` and returns the parsed JSON
document. A non-2xx answer raises ``ApiError`` carrying the status and the RFC 9457
problem's ``title``, ``detail`` and field ``errors``; an unreachable API raises
``ApiUnreachable``. Neither ever includes the token.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote
from uuid import UUID

import aiohttp

from .errors import ProducerError

CONNECTIONS_PATH: Final = "/api/connections"


class ApiUnreachable(ProducerError):
    """The API did not answer (connection refused, timeout, invalid response)."""


class ApiError(ProducerError):
    """The API answered with a non-2xx status; ``detail`` is the problem's sentence."""

    def __init__(
        self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors or []
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")


async def list_connections(
    api_url: str,
    token: str,
    *,
    kind: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """One page: ``{"items": [...], "next_cursor": str | None}``; None filters are left out."""
    filters = {"kind": kind, "status": status, "tag": tag, "q": q, "limit": limit, "cursor": cursor}
    params = {name: str(value) for name, value in filters.items() if value is not None}
    return await _get_json(api_url, CONNECTIONS_PATH, token, params, timeout_s)


async def get_connection(
    api_url: str, token: str, connection_id: UUID | str, *, timeout_s: float = 10.0
) -> dict[str, Any]:
    """One connection (secret field names only, never values); 404 ``ApiError`` if unseen."""
    path = f"{CONNECTIONS_PATH}/{quote(str(connection_id), safe='')}"
    return await _get_json(api_url, path, token, {}, timeout_s)


async def _get_json(
    api_url: str, path: str, token: str, params: dict[str, str], timeout_s: float
) -> dict[str, Any]:
    url = api_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params=params, headers=headers, allow_redirects=False) as response,
        ):
            document = await _document(response)
            if not 200 <= response.status < 300:
                raise _api_error(response, document)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise ApiUnreachable(f"the API did not answer ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise ApiUnreachable("the API answered with something other than a JSON object")
    return document


async def _document(response: aiohttp.ClientResponse) -> object:
    if not response.content_type.endswith("json"):
        return None
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


def _api_error(response: aiohttp.ClientResponse, document: object) -> ApiError:
    problem = document if isinstance(document, dict) else {}
    errors = problem.get("errors")
    return ApiError(
        response.status,
        str(problem.get("title") or response.reason or "error"),
        str(problem.get("detail") or ""),
        errors if isinstance(errors, list) else None,
    )
