"""The AsyncAPI document of the bus at ``/api/asyncapi.json``: public, read-only.

Public like ``/api/openapi.json``: it is built from code alone (``schemas.asyncapi``),
the same for every caller and every deployment, and holds no tenant data, no
secret, no setting and no address (``docs/decisions.md``, "The AsyncAPI document").
It is generated once per process and served as the same bytes after.
"""

from __future__ import annotations

import functools
import json
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from connmgr.schemas.asyncapi import asyncapi_document


@functools.cache
def document_bytes() -> bytes:
    """The document as served (and printed by ``connmgr contract asyncapi``)."""
    return json.dumps(asyncapi_document(package_version()), indent=2).encode()


def package_version() -> str:
    try:
        return version("connmgr")
    except PackageNotFoundError:
        return "0.0.0"


async def document(request: web.Request) -> web.StreamResponse:
    """The handler of ``/api/asyncapi.json``."""
    return web.Response(body=document_bytes(), content_type="application/json")
