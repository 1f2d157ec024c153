"""Query and path parameters: typed models, and parsing that answers 400 with field errors.

Unknown and repeated query parameters are refused too (a mistyped filter must not
silently return everything). Error messages never echo the value given, nor a
parameter name unless it has the shape of one (``_named``).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, TypeVar
from urllib.parse import unquote_to_bytes

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from connmgr.api.problems import invalid_parameters, not_found
from connmgr.schemas.fields import Tag, text_problem
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import FieldError, field_errors
from connmgr.storage.reads.connection_pages import (
    CURSOR_PATTERN,
    MAX_CURSOR_LENGTH,
    decode_cursor,
)
from connmgr.storage.reads.paging import DEFAULT_LIMIT, MAX_LIMIT, UUID_PATTERN

Model = TypeVar("Model", bound=BaseModel)

_INT32_MAX: Final = 2**31 - 1
_INT64_MAX: Final = 2**63 - 1
_PARAMETER_NAME: Final = re.compile("[a-z][a-z_]{0,31}")
_PATH_ID: Final = re.compile(UUID_PATTERN)
NO_NUL: Final = r"^[^\x00]*$"
"""Free text in a query: anything but NUL, which no PostgreSQL text holds (``parse_query``
refuses it first, with the same reason on every route)."""


def _check_cursor(cursor: str) -> str:
    decode_cursor(cursor)  # InvalidCursorError is a ValueError: pydantic reports it
    return cursor


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[
    str,
    AfterValidator(_check_cursor),
    Field(
        max_length=MAX_CURSOR_LENGTH,
        json_schema_extra={"pattern": CURSOR_PATTERN},
        description="The next_cursor of the previous page (every text of this shape is a"
        " position in the list: after that id and name).",
    ),
]
FreeText = Annotated[str, StringConstraints(pattern=NO_NUL)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectionListQuery(_Query):
    kind: Kind | None = None
    status: Annotated[FreeText, StringConstraints(min_length=1, max_length=32)] | None = None
    tag: Tag | None = None
    q: Annotated[FreeText, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Case-insensitive substring of name or description."
    )
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


class ConnectionLogQuery(_Query):
    after: Annotated[int, Field(ge=0, le=_INT32_MAX, description="Version to start after.")] = 0
    limit: Limit = DEFAULT_LIMIT


class EventFeedQuery(_Query):
    after: Annotated[int, Field(ge=0, le=_INT64_MAX, description="Position to start after.")] = 0
    limit: Limit = DEFAULT_LIMIT


def parse_query(request: web.Request, model: type[Model]) -> Model:
    """The request's query string as ``model``, or a 400 problem listing every bad field.

    Every name and value must be text first (``text_problem``: no NUL, no lone
    surrogate), on every route and backend alike; the query is then not parsed
    further."""
    errors = _invalid_text(request)
    if errors:
        raise invalid_parameters(errors)
    repeated = sorted({key for key in request.query if len(request.query.getall(key)) > 1})
    errors = [
        FieldError(field=_named(key), message="is given more than once", code="repeated")
        for key in repeated
    ]
    try:
        parsed = model.model_validate(dict(request.query))
    except ValidationError as error:
        errors += [_friendly(item) for item in field_errors(error)]
    else:
        if not errors:
            return parsed
    raise invalid_parameters(errors)


def _invalid_text(request: web.Request) -> list[FieldError]:
    """Names and values that are not valid UTF-8 as sent (decoding would replace what
    it cannot read), or that hold what no database stores (``text_problem``)."""
    errors: list[FieldError] = []
    for pair in request.rel_url.raw_query_string.split("&"):
        raw_key, _, raw_value = pair.partition("=")
        key, value = _strict_text(raw_key), _strict_text(raw_value)
        if key is None or (problem := text_problem(key)) is not None:
            errors.append(
                FieldError(field="query", message="a name is not valid text", code="text")
            )
        elif value is None:
            errors.append(FieldError(field=key, message="must be valid UTF-8", code="text"))
        elif (problem := text_problem(value)) is not None:
            errors.append(FieldError(field=key, message=problem, code="text"))
    return errors[:20]


def _strict_text(raw: str) -> str | None:
    try:
        return unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def connection_id(request: web.Request) -> str:
    """The ``{id}`` path parameter in lower case, the form ids are stored in (the route
    matches only the hyphenated form, either case). A fifth of the cost of parsing
    it as a ``UUID``: this runs on every read of one connection (issue 15)."""
    raw = request.match_info["id"]
    if _PATH_ID.fullmatch(raw) is None:  # unreachable through the router; for direct calls
        raise not_found("connection")
    return raw.lower()


def _friendly(error: FieldError) -> FieldError:
    if error.code == "extra_forbidden":
        field = _named(error.field)
        return FieldError(field=field, message="is not a known parameter", code="unknown")
    return error


def _named(name: str) -> str:
    """An unknown parameter's name, if it looks like one (a typo worth naming); else
    ``query``: a name is client text like any value, and may be a secret pasted there."""
    return name if _PARAMETER_NAME.fullmatch(name) else "query"
