"""Why a whole input file was refused (``docs/importers.md``, "All or nothing").

An ``ImportFailed`` stops the conversion before anything is written. Its reason
code is stable and its message names a place in the file (a line, an entry),
never a value read from it: the file may hold secrets.
"""

from __future__ import annotations

from typing import Final, Literal

ReasonCode = Literal[
    "input_unreadable",
    "input_too_large",
    "input_malformed",
    "input_too_complex",
    "input_not_recognised",
    "name_collision",
]

EXIT_IMPORT_FAILED: Final = 1


class ImportFailed(Exception):
    """The input file cannot be converted; nothing is written."""

    def __init__(self, reason: ReasonCode, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")
