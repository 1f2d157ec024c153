"""Who manages a file's connections: the ``source`` and its managed-by tag.

A file names its ``source`` (``platform/prod``), and ``apply`` tags every connection
it creates or updates ``managed-by:<source>``, so ``apply --prune`` deletes only
what this source manages. A tag rather than a field of the commands and events: it
is stored, projected and filtered like any tag, with no contract change
(``docs/decisions.md``, "Connections as code"). So a file cannot set such a tag
itself, and ``export`` leaves the markers out for the applying file to add its own.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import StringConstraints

MANAGED_BY_PREFIX: Final = "managed-by:"
"""The tag prefix of the managed-by marker; a file cannot set such a tag itself."""
DEFAULT_SOURCE: Final = "connmgr-apply"

Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/-]{1,53}$")]
"""Who manages the connections of a file; with the prefix it fits in a tag (64)."""


def managed_by_tag(source: str) -> str:
    return MANAGED_BY_PREFIX + source


__all__ = ["DEFAULT_SOURCE", "MANAGED_BY_PREFIX", "Source", "managed_by_tag"]
