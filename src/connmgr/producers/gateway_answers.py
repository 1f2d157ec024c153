"""How the command gateway answers: an outcome, a pending command, or an RFC 9457 problem.

- accepted: ``201`` for a create (``Location`` the connection), else ``200``; the
  body is the ``CommandOutcome``; a version gives the connection's new ``ETag``;
- no outcome within the wait: ``202`` with the command id, ``Location:
  /api/commands/{id}``, where the outcome appears once handled;
- rejected: a problem with the outcome's reason code and field errors: ``404``
  for ``not_found``, ``409`` for ``version_conflict`` and ``id_unavailable``,
  ``422`` for every other rejection (README.md, "Writes (the command gateway)");
  field errors name the body's fields (``config.port``, not ``payload.config.port``).

Problems never carry an input value (outcomes carry none either).
"""

from __future__ import annotations

import json
from typing import Any, Final
from uuid import UUID

from aiohttp import web

from connmgr.schemas.outcomes import CommandOutcome, FieldError, Reason

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_PREFIX: Final = "urn:connmgr:problem:"
_STATUS_OF_REASON: Final = {
    Reason.NOT_FOUND: 404,
    Reason.VERSION_CONFLICT: 409,
    Reason.ID_UNAVAILABLE: 409,
}
_TITLES: Final = {
    404: "Not found",
    409: "Conflict",
    422: "Unprocessable content",
    503: "Service unavailable",
}


def problem(
    status: int,
    reason: str,
    detail: str,
    errors: list[FieldError] | None = None,
    *,
    command_id: UUID | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    document: dict[str, Any] = {
        "type": PROBLEM_PREFIX + reason.replace("_", "-"),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if errors:
        document["errors"] = [error.model_dump() for error in errors]
    if command_id is not None:
        document["command_id"] = str(command_id)
    return web.Response(
        status=status,
        text=json.dumps(document),
        headers={**(headers or {}), "Content-Type": PROBLEM_MEDIA_TYPE},
    )


def outcome_answer(outcome: CommandOutcome, *, created: bool = False) -> web.Response:
    """The answer for an outcome that arrived in time (module doc)."""
    if outcome.outcome == "rejected":
        reason = outcome.reason or Reason.INVALID_COMMAND.value
        return problem(
            _STATUS_OF_REASON.get(Reason(reason), 422) if reason in _REASONS else 422,
            reason,
            outcome.message or "the command was rejected",
            [_body_field(error) for error in outcome.errors],
            command_id=outcome.command_id,
        )
    headers: dict[str, str] = {}
    if outcome.connection_id is not None and outcome.version is not None:
        headers["ETag"] = f'"{outcome.connection_id}.v{outcome.version}"'
    if created and outcome.connection_id is not None:
        headers["Location"] = f"/api/connections/{outcome.connection_id}"
    return web.json_response(
        outcome.model_dump(mode="json"), status=201 if created else 200, headers=headers
    )


def pending_answer(command_id: UUID, connection_id: UUID) -> web.Response:
    """``202``: stored, not answered yet; the outcome will be at ``Location``."""
    body = {"command_id": str(command_id), "connection_id": str(connection_id), "status": "pending"}
    return web.json_response(body, status=202, headers={"Location": f"/api/commands/{command_id}"})


def _body_field(error: FieldError) -> FieldError:
    """An outcome names a field inside the command (``payload.config.port``); the client
    sent it as a field of its body (``config.port``)."""
    field = error.field.removeprefix(_PAYLOAD)
    return error if field == error.field else error.model_copy(update={"field": field})


_PAYLOAD: Final = "payload."
_REASONS: Final = frozenset(reason.value for reason in Reason)
