"""``GET /api/schemas/connections``: the JSON Schemas a connection form is generated from.

Public like ``/api/asyncapi.json``: built from code alone by the one generator
(``schemas/form_schemas.py`` over ``schemas/json_schema.py``), the same for every
caller, with no tenant data. Each kind's ``config``, the auth methods it allows and
the secret fields each needs, the create payload with the health-check settings
and their defaults. Generated once per process.
"""

from __future__ import annotations

import functools
import json

from aiohttp import web

from connmgr.schemas.form_schemas import connection_forms


@functools.cache
def document_bytes() -> bytes:
    return json.dumps(connection_forms(), sort_keys=True).encode()


async def document(request: web.Request) -> web.StreamResponse:
    headers = {"Cache-Control": "public, max-age=300"}
    return web.Response(body=document_bytes(), content_type="application/json", headers=headers)
