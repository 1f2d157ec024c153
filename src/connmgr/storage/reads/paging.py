"""What every paged read shares: the page size limits and the refusal of a bad cursor.

A cursor is a keyset position: each paged read encodes its own and declares its shape
as a regular expression (``CURSOR_PATTERN`` of its module). Clients treat a cursor as
opaque, but every text of that shape is a position in the caller's own list, so the
API's document can say exactly what is accepted; anything else raises
``InvalidCursorError``.
"""

from __future__ import annotations

from typing import Final

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 50
UUID_PATTERN: Final = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
"""The text form of an id (RFC 9562, hyphenated, either case): in paths, filters, cursors."""


class InvalidCursorError(ValueError):
    """The cursor does not have the shape of this read's cursors."""


def check_limit(limit: int) -> None:
    """Raise ``ValueError`` unless ``1 <= limit <= MAX_LIMIT``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
