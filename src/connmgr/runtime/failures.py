"""Infrastructure failures told in one line: for operators' terminals and for log fields.

``describe(error)`` names the innermost cause of a failure (a driver's error
under SQLAlchemy's wrapper, the ``OSError`` under a connection error) as
``Type: message``, on one line, at most ``MAX_REASON_CHARS`` long, with URL
userinfo and secret-looking values masked (``redaction.mask_text``). SQLAlchemy's
own wrapper text (the statement, its parameters, a documentation link) is
never used. ``is_unavailable(error)`` tells a service that did not answer
(worth a retry) from one that answered no. ``OperatorError`` and its kinds are
what the console script turns into one line and an exit status.
"""

from __future__ import annotations

import asyncio
from typing import Final

from connmgr.runtime.redaction import mask_text

MAX_REASON_CHARS: Final = 240
_PERMANENT_SQLSTATE_PREFIXES: Final = ("28", "3D")
"""Invalid authorization (28xxx: wrong password, unknown role) and an unknown
database (3D000): the server answered, and asking again gives the same answer."""


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception of ``error``'s chain: a driver's ``orig``, ``__cause__``."""
    seen: set[int] = set()
    current = error
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "orig", None) or current.__cause__
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def describe(error: BaseException) -> str:
    """``Type: message`` of the root cause, one line, masked, bounded."""
    cause = root_cause(error)
    message = " ".join(str(cause).split())
    if isinstance(cause, TimeoutError | asyncio.TimeoutError) and not message:
        message = "no answer in time"
    text = f"{type(cause).__name__}: {message}" if message else type(cause).__name__
    text = mask_text(text)
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text


def is_unavailable(error: BaseException) -> bool:
    """True unless the server answered with a refusal that a retry cannot change."""
    for link in (error, root_cause(error)):
        state = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(state, str) and state.startswith(_PERMANENT_SQLSTATE_PREFIXES):
            return False
    return True


class OperatorError(Exception):
    """A failure an operator reads as one line (``connmgr: <command>: <message>``),
    with the exit status the command ends with."""

    exit_code = 1


class MissingExtra(OperatorError):
    """This install lacks the optional dependencies a command needs."""

    exit_code = 78  # EX_CONFIG: the install, not the command, is at fault

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"needs the {extra} dependencies: pip install 'connmgr[{extra}]' "
            f"(no module named {module!r})"
        )


class ServiceUnavailable(OperatorError):
    """A service (database, broker) did not answer."""

    exit_code = 69  # EX_UNAVAILABLE
