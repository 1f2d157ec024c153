"""Schemathesis against the API: every read operation of the OpenAPI document, all checks.

The API runs on a real port (``live_api``: ``ProblemAppRunner``, as ``connmgr api``
serves it) over a PostgreSQL database seeded with two tenants' connections, events,
samples and roll-ups. Each generated request carries a valid token: the operator's
for an operation that needs ``metrics:read``, else tenant ``acme``'s; Schemathesis
itself never generates the ``Authorization`` header, and its ``ignored_auth`` check
sends each operation without a token and with a wrong one. Every check is on, in
every phase (examples, coverage, fuzzing; the stateful phase has no links to follow),
``MAX_EXAMPLES`` per operation, derandomized so that a run is repeatable.

What Schemathesis skips, and where it is covered instead:

- operations other than GET: the command gateway's write routes are not in this
  document (it is the read API's, built without them) and are tested end to end in
  ``tests/gateway_api``;
- streaming responses (``text/event-stream``, NDJSON): a generated request would wait
  for the stream's end; ``GET /api/events/stream`` has ``tests/api/test_api_live_feed.py``;
- requests no client library can send (an oversized request line or header, a
  malformed one): ``tests/api/test_api_problems.py`` sends them as raw bytes.

``test_schemathesis_covers_every_read_route`` keeps ``SKIPPED`` honest: a new route is
either tested here or listed there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest
import schemathesis
from schemathesis import Case

from api.live_api import ACME_IDS, GLOBEX_ID, LiveApi
from connmgr.api import create_app
from connmgr.api.console_assets import CONSOLE_ROUTE_NAMES
from connmgr.api.openapi import openapi_document
from connmgr.api.routes import ROUTES
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import SCOPE_METRICS_READ
from support.databases import temporary_postgres_database
from support.services import require_services

MAX_EXAMPLES: Final = 30
"""Per operation and phase; the whole run stays under a minute on a shared machine."""
STREAMING: Final = frozenset({"text/event-stream", "application/x-ndjson"})
SKIPPED: Final[frozenset[tuple[str, str]]] = frozenset({("get", "/api/events/stream")})
"""``(method, path)`` of the operations Schemathesis does not run (module docstring)."""

DOCUMENT: Final = openapi_document(
    create_app(Settings(database_url="sqlite+aiosqlite://")).router, ROUTES
)


def _is_read(method: str, operation: dict[str, Any]) -> bool:
    content = operation["responses"].get("200", {}).get("content", {})
    return method == "get" and not STREAMING & content.keys()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _with_seeded_ids(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation with the seeded connection ids as examples of its id parameters, so
    that the examples phase reads real rows (and ``globex``'s, which must be a 404)."""
    parameters = []
    for parameter in operation.get("parameters", []):
        if parameter["name"] in ("id", "connection_id"):
            examples = [*ACME_IDS, GLOBEX_ID]
            parameter = {**parameter, "schema": {**parameter["schema"], "examples": examples}}
        parameters.append(parameter)
    return {**operation, "parameters": parameters}


READS: Final = {
    **DOCUMENT,
    "paths": {
        path: {method: _with_seeded_ids(op) for method, op in item.items() if _is_read(method, op)}
        for path, item in DOCUMENT["paths"].items()
    },
}
CONFIG: Final = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "with-security-parameters": False,
        },
        "checks": {"enabled": True},
    }
)
schema = schemathesis.openapi.from_dict(READS, config=CONFIG)


@pytest.fixture(scope="module")
def live_api() -> Iterator[LiveApi]:
    with LiveApi.started(temporary_postgres_database) as api:
        yield api


@pytest.fixture(scope="module", autouse=True)
async def postgres_is_up() -> None:
    await require_services("postgres")


@schema.parametrize()
def test_every_read_operation_keeps_the_contract(case: Case, live_api: LiveApi) -> None:
    security = case.operation.definition.raw.get("security", [])
    scopes = {scope for requirement in security for scope in requirement.get("bearer", [])}
    data = live_api.data
    token = data.operator_token if SCOPE_METRICS_READ in scopes else data.tenant_token
    case.call_and_validate(base_url=live_api.base_url, headers={"Authorization": f"Bearer {token}"})


def test_schemathesis_covers_every_read_route() -> None:
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in create_app(Settings(database_url="sqlite+aiosqlite://")).router.routes()
        if route.resource is not None and route.name not in CONSOLE_ROUTE_NAMES
    }
    tested = {(method, path) for method, path, _ in _operations(READS)}
    skipped = {(method, path) for method, path, op in _operations(DOCUMENT)} - tested

    assert tested | skipped == served
    assert skipped == SKIPPED
    assert ("get", "/api/connections/{id}/checks") in tested
