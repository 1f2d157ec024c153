"""A connections file's text: read from YAML or JSON, written in a stable form.

``load_declared`` parses text the caller read (as YAML, so JSON is read the same
way) and validates it. A file that cannot be used raises ``DeclaredFileError``, one
``field: reason`` line per problem and never a value (``problems``), so ``plan`` and
``apply`` stop before anything is sent. A file over ``MAX_FILE_BYTES`` is refused
before it is parsed.

``dump_declared`` writes the text ``export`` prints and the importers write:
defaults left out, keys in a fixed order (the models'), so a diff of two files
shows real changes. Pure: the caller reads and writes the file.
"""

from __future__ import annotations

import json
from typing import Any, Final

import yaml
from pydantic import ValidationError

from connmgr.schemas.declared.config import auth_json
from connmgr.schemas.declared.connection import DeclaredConnection
from connmgr.schemas.declared.file import DeclaredFile
from connmgr.schemas.declared.problems import problem_lines

MAX_FILE_BYTES: Final = 16 * 1024 * 1024


class DeclaredFileError(ValueError):
    """A file that cannot be used; ``problems`` holds one ``field: reason`` line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_declared(text: str | bytes) -> DeclaredFile:
    """Parse and validate a YAML or JSON connections file; ``DeclaredFileError`` if bad."""
    if len(text) > MAX_FILE_BYTES:
        raise DeclaredFileError([f"the file is larger than {MAX_FILE_BYTES} bytes"])
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DeclaredFileError([f"the file is not valid YAML or JSON{where}"]) from None
    if not isinstance(document, dict):
        raise DeclaredFileError(["the file must hold a mapping with version and connections"])
    try:
        return DeclaredFile.model_validate(document)
    except ValidationError as error:
        raise DeclaredFileError(problem_lines(error)) from None


def dump_declared(declared: DeclaredFile, *, as_json: bool = False) -> str:
    """The file's text: defaults left out, keys in the models' order."""
    document = {
        "version": declared.version,
        "source": declared.source,
        "connections": [_entry(connection) for connection in declared.connections],
    }
    if as_json:
        return json.dumps(document, indent=2) + "\n"
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))


def _entry(connection: DeclaredConnection) -> dict[str, Any]:
    """One connection as written: defaults left out, but an auth keeps its method."""
    entry = connection.model_dump(mode="json", exclude_defaults=True)
    if "auth" in entry:
        entry["auth"] = auth_json(connection.auth)
    return entry


__all__ = ["MAX_FILE_BYTES", "DeclaredFileError", "dump_declared", "load_declared"]
