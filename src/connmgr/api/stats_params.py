"""Query models of the statistics routes (``stats``), and the range of a roll-up window.

Parsing goes through ``params.parse_query`` (unknown or repeated parameters and bad
values → 400 with field errors). Each parameter means the same whatever the others
say, so the OpenAPI document (one schema per parameter) states every rule the server
applies: ``rollup_range`` reads fields together but never refuses a combination.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from connmgr.api.params import Limit
from connmgr.storage.reads.connection_health import (
    ALERT_CURSOR_PATTERN,
    MAX_CHANGES,
    AlertState,
    decode_alert_cursor,
)
from connmgr.storage.reads.paging import DEFAULT_LIMIT, UUID_PATTERN
from connmgr.storage.reads.sample_history import MAX_SAMPLES

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
RAW_LIMIT: Final = 100
"""How many raw samples ``/checks`` returns when the query sets no ``limit``."""
_UUID: Final = re.compile(UUID_PATTERN)
_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
_LATEST: Final = datetime.max.replace(tzinfo=UTC)


def _check_uuid(value: str) -> str:
    if _UUID.fullmatch(value) is None:
        raise ValueError("is not a connection id (a UUID)")  # never echo the value
    return value.lower()


ConnectionId = Annotated[
    str,
    AfterValidator(_check_uuid),
    Field(json_schema_extra={"format": "uuid", "pattern": f"^{UUID_PATTERN}$"}),
]


_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:(?P<second>[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: object) -> str:
    """Only RFC 3339 date-time text, as the document says (pydantic alone would also read
    ``0.5`` as a Unix time). A leap second (``:60``) is read as the microsecond before it."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("is not an RFC 3339 date-time: date, T, time, then Z or an offset")
    text = match.string
    if match["second"] != "60":
        return text
    end = match.end("fraction") if match["fraction"] else match.end("second")
    return f"{text[: match.start('second')]}59.999999{text[end:]}"


def _in_utc(moment: datetime) -> datetime:
    """The moment in UTC; one beyond what a UTC datetime can hold (year 1 at +01:00)
    becomes the earliest or latest one, which no sample is older or newer than."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if moment.year == 1 else _LATEST


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc)]


def _check_cursor(cursor: str) -> str:
    decode_alert_cursor(cursor)  # InvalidCursorError is a ValueError: pydantic reports it
    return cursor


AlertCursor = Annotated[
    str,
    AfterValidator(_check_cursor),
    Field(
        json_schema_extra={"pattern": ALERT_CURSOR_PATTERN},
        description="The next_cursor of the previous page (every text of this shape is a"
        " position: 0 open, 1 resolved, then the log position of the alert's raise).",
    ),
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
    limit: (
        Annotated[
            int,
            Field(
                ge=1,
                le=MAX_SAMPLES,
                description="At most this many samples or buckets of the range, the newest"
                " (default: 100 samples; every bucket of a roll-up range).",
            ),
        ]
        | None
    ) = None
    since: Moment | None = Field(
        default=None,
        description="Start of the range (inclusive). Raw: no bound by default. Roll-ups:"
        " by default 1 h (minute) or 1 day (hour) before until, and never more than"
        " 1 day (minute) or 90 days (hour) before it: an earlier since is moved up, and"
        " the answer's since says where the range starts.",
    )
    until: Moment | None = Field(
        default=None,
        description="End of the range (exclusive); default now. A range that does not"
        " end after it starts is empty.",
    )


class StatsQuery(_Query):
    connection_id: ConnectionId | None = Field(
        default=None, description="One connection's figures."
    )
    window: StatsWindow | None = Field(default=None, description="One window only.")


def rollup_range(query: ChecksQuery, now: datetime) -> tuple[datetime, datetime]:
    """The ``(since, until)`` of a roll-up window: its default range ending ``until``
    (default ``now``), cut to its longest."""
    default, longest = ROLLUP_RANGES[query.window]
    until = query.until or now
    since = query.since or _before(until, default)
    return max(since, _before(until, longest)), until


def _before(moment: datetime, span: timedelta) -> datetime:
    try:
        return moment - span
    except OverflowError:
        return _EARLIEST
