"""What the CLI prints: human-readable lines by default, one JSON document with ``--json``.

Outcomes and API documents go to standard output; problems to standard error.
Nothing printed can hold a secret: outcomes and API views carry none.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

from connmgr.schemas.outcomes import CommandOutcome

from .errors import OutcomeTimeout

LIST_COLUMNS = ("id", "name", "kind", "status", "version")
PHASE_ORDER: Final = ("resolve", "connect", "tls", "auth", "query", "request")
SERVER_LINES: Final = (
    ("version", "server"),
    ("tls_subject", "tls subject"),
    ("tls_issuer", "tls issuer"),
    ("tls_not_after", "tls expires"),
)


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


def print_probe_outcome(outcome: CommandOutcome, as_json: bool, out: TextIO | None = None) -> None:
    """A test's or check's outcome with its result: outcome, detail, latency and each
    phase in ms, the server's identity when known. A rejection prints as any other."""
    out = out or sys.stdout
    if as_json or outcome.outcome != "accepted":
        print_outcome(outcome, as_json, out)
        return
    stored = f"version {outcome.version}" if outcome.version is not None else "draft, not stored"
    print(f"accepted: connection {outcome.connection_id} ({stored})", file=out)
    for line in result_lines(outcome.result):
        print(line, file=out)
    print(f"command: {outcome.command_id}", file=out)


def result_lines(result: Mapping[str, Any] | None) -> list[str]:
    """The lines of a test result, read leniently (a newer tester may add fields)."""
    if not result:
        return ["result: none (acknowledged without a test result)"]
    lines = [f"result: {result.get('outcome', 'unknown')}"]
    if result.get("detail"):
        lines.append(f"detail: {result['detail']}")
    if isinstance(result.get("latency_ms"), int | float):
        lines.append(f"latency: {_ms(result['latency_ms'])}")
    phases = result.get("phases")
    if isinstance(phases, Mapping):
        ranked = sorted(phases, key=_phase_rank)  # the order they happen; unknown ones last
        lines += [f"  {phase}: {_ms(phases[phase])}" for phase in ranked]
    server = result.get("server")
    if isinstance(server, Mapping):
        lines += [f"{label}: {server[key]}" for key, label in SERVER_LINES if server.get(key)]
    if result.get("tested_at"):
        lines.append(f"tested at: {result['tested_at']}")
    return lines


def _phase_rank(phase: str) -> int:
    return PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER)


def _ms(value: object) -> str:
    return f"{value:.1f} ms" if isinstance(value, int | float) else f"{value} ms"


def print_timeout(error: OutcomeTimeout, as_json: bool, out: TextIO | None = None) -> None:
    """The ids to look the command up later; the explanation goes to stderr."""
    out = out or sys.stdout
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
