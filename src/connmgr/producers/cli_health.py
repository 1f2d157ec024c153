"""``connmgr status`` and ``connmgr alerts``: health tables read from the API.

- ``status``: one page of connections (the ``ls`` filters, ``--cursor``) with their
  status, since when, and 24 h uptime and p95 latency (one stats request per
  connection, at most ``STATS_CONCURRENCY`` at a time; a connection deleted in
  between shows ``-``);
- ``alerts``: open alerts first, then resolved ones, newest first (``--state``,
  ``--connection``, paged with ``--cursor``).

Tables go to standard output (``--json``: one JSON document instead), the next
page's cursor to standard error. Exit codes are those of every read: 0 read, 1 the
API answered an error, 2 usage error, 4 the API is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from . import api_client, health_client
from .cli_handlers import EXIT_OK, CliContext, Handler, exit_codes
from .cli_input import UsageError, connection_id

STATS_CONCURRENCY: Final = 8
STATUS_COLUMNS: Final = ("name", "kind", "status", "since", "uptime_24h", "p95_24h")
ALERT_COLUMNS: Final = ("alert", "connection", "state", "raised", "resolved", "open", "outcome",
                        "reason")  # fmt: skip
_EMPTY: Final = "-"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status`` and ``alerts``; each sets ``args.handler``."""
    summary = "connections with their health status, 24h uptime and p95 latency"
    status_parser = _parser(subparsers, "status", summary, status)
    status_parser.add_argument("--kind")
    status_parser.add_argument("--status", help="only connections with this health status")
    status_parser.add_argument("--tag")
    status_parser.add_argument("--limit", type=int, help="connections per page")
    status_parser.add_argument("--cursor", help="next_cursor of the previous page")
    alerts_parser = _parser(subparsers, "alerts", "alerts, open first, then resolved", alerts)
    alerts_parser.add_argument("--state", choices=("open", "resolved"))
    alerts_parser.add_argument("--connection", type=connection_id, metavar="ID")
    alerts_parser.add_argument("--limit", type=int, help="alerts per page")
    alerts_parser.add_argument("--cursor", help="next_cursor of the previous page")


def _parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=summary, description=summary, allow_abbrev=False)
    parser.set_defaults(handler=handler)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--api-url", help="read API base URL (default: CONNMGR_API_URL)")
    parser.add_argument("--token", help="read API token (default: CONNMGR_API_TOKEN)")
    return parser


@exit_codes
async def status(args: argparse.Namespace, ctx: CliContext) -> int:
    api_url, token = _endpoint(args, ctx)
    filters = {"kind": args.kind, "status": args.status, "tag": args.tag}
    page = await api_client.list_connections(
        api_url, token, **filters, limit=args.limit, cursor=args.cursor, timeout_s=ctx.timeout_s
    )
    items = page.get("items") or []
    days = await _day_stats(api_url, token, [item["id"] for item in items], ctx.timeout_s)
    rows = [_status_row(item, days.get(item["id"])) for item in items]
    if args.json:
        print(json.dumps({"items": rows, "next_cursor": page.get("next_cursor")}))
    else:
        _print_table(STATUS_COLUMNS, [_status_cells(row) for row in rows])
    _print_more(page)
    return EXIT_OK


@exit_codes
async def alerts(args: argparse.Namespace, ctx: CliContext) -> int:
    api_url, token = _endpoint(args, ctx)
    page = await health_client.list_alerts(
        api_url,
        token,
        state=args.state,
        connection_id=args.connection,
        limit=args.limit,
        cursor=args.cursor,
        timeout_s=ctx.timeout_s,
    )
    if args.json:
        print(json.dumps(page))
    else:
        _print_table(ALERT_COLUMNS, [_alert_cells(alert) for alert in page.get("items") or []])
    _print_more(page)
    return EXIT_OK


def _endpoint(args: argparse.Namespace, ctx: CliContext) -> tuple[str, str]:
    api_url, token = args.api_url or ctx.api_url, args.token or ctx.api_token
    if not api_url or not token:
        raise UsageError("the API needs --api-url and --token (or CONNMGR_API_URL/_TOKEN)")
    return api_url, token


async def _day_stats(
    api_url: str, token: str, ids: Sequence[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """The 24 h figures of each connection still visible, by id."""
    gate = asyncio.Semaphore(STATS_CONCURRENCY)

    async def one(identifier: str) -> tuple[str, dict[str, Any] | None]:
        async with gate:
            try:
                report = await health_client.connection_stats(
                    api_url, token, connection_id=identifier, window="24h", timeout_s=timeout_s
                )
            except api_client.ApiError as error:
                if error.status != 404:
                    raise
                return identifier, None
        day: dict[str, Any] = report["windows"]["24h"]
        return identifier, day

    found = await asyncio.gather(*(one(identifier) for identifier in ids))
    return {identifier: day for identifier, day in found if day is not None}


def _status_row(item: dict[str, Any], day: dict[str, Any] | None) -> dict[str, Any]:
    figures = day or {}
    return {
        "id": item.get("id"),
        "name": item.get("name"),
        "kind": item.get("kind"),
        "status": item.get("status"),
        "since": item.get("status_since"),
        "uptime_24h_percent": figures.get("uptime_percent"),
        "latency_p95_24h_ms": figures.get("latency_p95_ms"),
    }


def _status_cells(row: dict[str, Any]) -> list[str]:
    uptime, p95 = row["uptime_24h_percent"], row["latency_p95_24h_ms"]
    return [
        str(row["name"]),
        str(row["kind"]),
        str(row["status"]),
        _when(row["since"]),
        _EMPTY if uptime is None else f"{uptime:.2f}%",
        _EMPTY if p95 is None else f"{p95:.1f}ms",
    ]


def _alert_cells(alert: dict[str, Any]) -> list[str]:
    return [
        str(alert.get("alert_id", ""))[:8],
        str(alert.get("connection_name", "")),
        str(alert.get("state", "")),
        _when(alert.get("raised_at")),
        _when(alert.get("resolved_at")),
        _duration(alert.get("open_s")),
        str(alert.get("outcome") or _EMPTY),
        str(alert.get("reason", "")),
    ]


def _when(moment: object) -> str:
    """An API time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC); ``-`` when absent."""
    if not isinstance(moment, str):
        return _EMPTY
    parsed = datetime.fromisoformat(moment)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: object) -> str:
    """``45s``, ``12m05s``, ``3h02m``, ``2d04h``."""
    if not isinstance(seconds, int | float):
        return _EMPTY
    whole = int(seconds)
    for unit, size, small, small_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}{whole % size // small_size:02d}{small}"
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _print_table(columns: Sequence[str], rows: list[list[str]]) -> None:
    header = [column.upper().replace("_", "-") for column in columns]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _print_more(page: dict[str, Any]) -> None:
    if page.get("next_cursor"):
        print(f"more: --cursor {page['next_cursor']}", file=sys.stderr)
