"""Query models of the health routes, and the checks window's cross-field rules.

Parsing goes through ``params.parse_query`` (unknown or repeated parameters and bad
values → 400 with field errors); ``check_window`` adds the rules that join fields.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from connmgr.api.params import Limit
from connmgr.schemas.outcomes import FieldError
from connmgr.storage.health_queries import MAX_CHANGES, AlertState, decode_alert_cursor
from connmgr.storage.queries import DEFAULT_LIMIT
from connmgr.storage.sample_queries import MAX_SAMPLES

Window = Literal["raw", "minute", "hour"]
StatsWindow = Literal["1h", "24h", "7d", "30d"]
STATS_WINDOWS: Final[dict[StatsWindow, timedelta]] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
ROLLUP_RANGES: Final[dict[Window, tuple[timedelta, timedelta]]] = {
    "minute": (timedelta(hours=1), timedelta(days=1)),
    "hour": (timedelta(days=1), timedelta(days=90)),
}
"""Per roll-up window: (default range, longest range) — at most 1,440 or 2,160 rows."""


def _check_uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise ValueError("is not a connection id (a UUID)") from None  # never echo the value


ConnectionId = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_uuid)]


def _check_cursor(cursor: str) -> str:
    decode_alert_cursor(cursor)  # InvalidCursorError is a ValueError: pydantic reports it
    return cursor


AlertCursor = Annotated[
    str,
    StringConstraints(max_length=256),
    AfterValidator(_check_cursor),
    Field(description="Opaque: the next_cursor of the previous page."),
]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthSummaryQuery(_Query):
    changes: Annotated[
        int, Field(ge=1, le=MAX_CHANGES, description="How many recent status changes.")
    ] = 10


class AlertListQuery(_Query):
    state: AlertState | None = None
    connection_id: ConnectionId | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: AlertCursor | None = None


class ChecksQuery(_Query):
    window: Window = Field(default="raw", description="raw samples, or minute/hour roll-ups.")
    limit: Annotated[
        int, Field(ge=1, le=MAX_SAMPLES, description="raw only: how many newest samples.")
    ] = 100
    since: AwareDatetime | None = Field(default=None, description="Oldest sample or bucket.")
    until: AwareDatetime | None = Field(
        default=None, description="Roll-ups only: end of the range (exclusive); default now."
    )


class StatsQuery(_Query):
    connection_id: ConnectionId | None = Field(
        default=None, description="One connection's figures."
    )
    window: StatsWindow | None = Field(default=None, description="One window only.")


def check_window(query: ChecksQuery, now: datetime) -> tuple[datetime, datetime] | None:
    """None for ``raw`` (which takes no ``until``); for a roll-up window, the
    ``(since, until)`` to read: by default its default range ending now, never longer
    than its longest. Raises ``WindowError`` when the fields do not fit together."""
    if query.window == "raw":
        if query.until is not None:
            raise WindowError("until", "applies to the minute and hour windows only")
        return None
    if "limit" in query.model_fields_set:
        raise WindowError("limit", "applies to the raw window only")
    default, longest = ROLLUP_RANGES[query.window]
    until = query.until or now
    since = query.since or until - default
    if since >= until:
        raise WindowError("since", "must be before until")
    if until - since > longest:
        raise WindowError("since", f"is more than {longest.days} day(s) before until")
    return since, until


class WindowError(ValueError):
    """A rule joining the checks query's fields is broken; ``error`` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.error = FieldError(field=field, message=message, code="window")
