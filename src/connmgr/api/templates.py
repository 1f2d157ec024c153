"""``GET /api/connections/templates``: the template catalogue, filtered by category and text.

The catalogue is the same for every tenant and holds no secret (only the names of
the secret fields a template needs), so the answer depends on the query alone.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from connmgr.api.params import FreeText, parse_query
from connmgr.schemas.templates import Category, Template, search

_CACHE_HEADERS = {"Cache-Control": "private, max-age=300", "Vary": "Authorization"}


class TemplateListQuery(BaseModel):
    """Unknown or repeated parameters are refused (``parse_query``), like every list route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category | None = Field(default=None, description="Only this category.")
    q: Annotated[FreeText, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Case-insensitive substring of the id, name, category or setup notes"
        " (surrounding spaces ignored: a blank q matches every template).",
    )


class TemplateList(BaseModel):
    """The matching templates, by category then name (the catalogue is small: no paging)."""

    model_config = ConfigDict(frozen=True)

    items: list[Template]


async def list_templates(request: web.Request) -> web.Response:
    """The catalogue filtered by ``category`` and ``q``; a bad parameter is a 400 problem."""
    query = parse_query(request, TemplateListQuery)
    page = TemplateList(items=search(category=query.category, q=query.q))
    return web.Response(
        text=page.model_dump_json(), content_type="application/json", headers=_CACHE_HEADERS
    )
