"""A connections file's validation errors as lines a person can act on, values never.

Each error becomes one ``field: reason`` line, the field spelled as the file spells
it (``connections[0].secrets.password``, without the model and validator names
pydantic puts in the path). No line carries the value given, nor pydantic's links
and context: the value may be the literal secret being refused (``docs/security.md``,
"Connections files hold references, never secrets"). The first 50 errors are kept.

Pure; ``DeclaredConnection`` folds a bad config's errors into one, ``load_declared``
reports a file's.
"""

from __future__ import annotations

from pydantic import ValidationError


def problem_lines(error: ValidationError) -> list[str]:
    """One line per error: where, then why; never the value given."""
    lines = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = _location(tuple(item["loc"]))
        lines.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    return lines[:50]


def problems_text(error: ValidationError, prefix: str) -> str:
    """The lines joined in one, each under ``prefix`` (the section that was validated)."""
    return "; ".join(
        f"{prefix}.{line}" if not line.startswith(prefix) else line for line in problem_lines(error)
    )


def _location(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not (part[:1].isupper() or part.startswith("function-")):
            text += f".{part}" if text else part
    return text


__all__ = ["problem_lines", "problems_text"]
