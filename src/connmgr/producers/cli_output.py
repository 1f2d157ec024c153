"""What the CLI prints: human-readable lines by default, one JSON document with ``--json``.

Outcomes and API documents go to standard output; problems to standard error.
Nothing printed can hold a secret: outcomes and API views carry none.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from connmgr.schemas.outcomes import CommandOutcome

from .errors import OutcomeTimeout

LIST_COLUMNS = ("id", "name", "kind", "status", "version")


def print_outcome(outcome: CommandOutcome, as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        print(outcome.model_dump_json(), file=out)
        return
    if outcome.outcome == "accepted":
        events = ", ".join(outcome.events) or "no events"
        print(f"accepted: connection {outcome.connection_id} version {outcome.version}", file=out)
        print(f"events: {events}", file=out)
    else:
        reason = outcome.reason or "rejected"
        print(f"rejected: {reason}: {outcome.message or ''}".rstrip(": "), file=out)
        for error in outcome.errors:
            print(f"  {error.field}: {error.message}", file=out)
    print(f"command: {outcome.command_id}", file=out)


def print_timeout(error: OutcomeTimeout, as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    """The ids to look the command up later; the explanation goes to stderr."""
    if as_json:
        document = {
            "command_id": str(error.command_id),
            "connection_id": str(error.connection_id),
            "outcome": "timeout",
        }
        print(json.dumps(document), file=out)
    print(f"timeout: {error}", file=sys.stderr)


def print_connections(page: dict[str, Any], as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        print(json.dumps(page), file=out)
        return
    items = page.get("items") or []
    rows = [[str(item.get(column, "")) for column in LIST_COLUMNS] for item in items]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(LIST_COLUMNS)]
    for row in [[c.upper() for c in LIST_COLUMNS], *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    if page.get("next_cursor"):
        print(f"more: --cursor {page['next_cursor']}", file=sys.stderr)


def print_connection(document: dict[str, Any], as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        print(json.dumps(document), file=out)
        return
    for key, value in document.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        print(f"{key}: {shown}", file=out)
