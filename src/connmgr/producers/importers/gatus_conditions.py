"""Gatus conditions that connmgr can express, as expectations of its check.

A Gatus endpoint is healthy when every condition holds. connmgr's ``http`` check
expects one status, optionally a body substring and a JSON path that exists
(``schemas/kinds.py``, ``HttpTestRequest``), and its health check a latency
objective (``schemas/health.py``). So (``docs/importers.md``, "Gatus"):

- ``[STATUS] == 200`` sets ``expected_status``;
- ``[RESPONSE_TIME] < 300`` (or ``<=``) sets ``latency_slo_ms``;
- ``[BODY] == pat(*text*)`` sets ``body_contains`` (one ``*`` at each end only);
- ``has([BODY].a.b) == true`` sets ``json_path`` ``a.b``;
- ``[CONNECTED] == true`` is what any connmgr check asks already.

Every other condition (a status range, a JSON value, certificate or domain
expiry, DNS answers, ``len()``, ``any()``) is not mapped: ``conditions_of``
returns it with the reason, naming the condition by its position and its
placeholder only, for the import report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

_CONDITION = re.compile(r"^\s*(?P<left>.+?)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<right>.+?)\s*$")
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
_JSON_PATH = re.compile(r"^\[BODY\]((?:\.[A-Za-z0-9_-]+|\[\d+\])+)$")
_HAS = re.compile(r"^has\((?P<path>\[BODY\][^)]*)\)$")
_PATTERN = re.compile(r"^pat\(\*(?P<text>[^*?]+)\*\)$")
_MAX_CONDITIONS: Final = 64


@dataclass(slots=True)
class Expectations:
    """What the conditions of one endpoint set; ``unmapped`` lines for the report."""

    test: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)


def conditions_of(conditions: list[Any]) -> Expectations:
    """Map each condition or record why not."""
    found = Expectations()
    for index, condition in enumerate(conditions[:_MAX_CONDITIONS]):
        reason = _map(str(condition), found) if isinstance(condition, str) else "not text"
        if reason is not None:
            found.unmapped.append(f"condition {index}{_subject(condition)} not mapped: {reason}")
    if len(conditions) > _MAX_CONDITIONS:
        found.unmapped.append(f"conditions after the first {_MAX_CONDITIONS} not mapped")
    return found


def _subject(condition: Any) -> str:
    names = _PLACEHOLDER.findall(condition) if isinstance(condition, str) else []
    return f" ({', '.join(dict.fromkeys(names))})" if names else ""


def _map(condition: str, found: Expectations) -> str | None:
    """None when mapped into ``found``, else the reason it is not."""
    match = _CONDITION.match(condition)
    if match is None:
        return "not a comparison connmgr reads"
    left, op, right = match["left"], match["op"], match["right"]
    if left == "[STATUS]":
        return _status(op, right, found)
    if left == "[RESPONSE_TIME]":
        return _response_time(op, right, found)
    if left == "[CONNECTED]" and op == "==" and right == "true":
        return None
    if left == "[BODY]" and op == "==" and (pattern := _PATTERN.match(right)):
        return _set(found.test, "body_contains", pattern["text"])
    if (has := _HAS.match(left)) and op == "==" and right == "true":
        return _json_path(has["path"], found)
    if _JSON_PATH.match(left):
        return "connmgr checks that a JSON path exists, not its value"
    return "no connmgr expectation for it"


def _status(op: str, right: str, found: Expectations) -> str | None:
    if op != "==" or not right.isdigit() or not 100 <= int(right) <= 599:
        return "connmgr expects one status (== a code), not a range"
    return _set(found.test, "expected_status", int(right))


def _response_time(op: str, right: str, found: Expectations) -> str | None:
    if op not in ("<", "<=") or not right.isdigit():
        return "connmgr has a latency objective only (< or <= milliseconds)"
    limit = int(right) - 1 if op == "<" else int(right)
    if limit < 1:
        return "the limit is below 1 ms"
    return _set(found.health, "latency_slo_ms", min(limit, 600_000))


def _json_path(path: str, found: Expectations) -> str | None:
    match = _JSON_PATH.match(path)
    if match is None:
        return "not a JSON path connmgr reads"
    dotted = re.sub(r"\[(\d+)\]", r".\1", match[1]).lstrip(".")
    return _set(found.test, "json_path", dotted)


def _set(target: dict[str, Any], key: str, value: Any) -> str | None:
    if key in target and target[key] != value:
        return f"{key} is set by an earlier condition; connmgr keeps one"
    target[key] = value
    return None
