"""The connections file an import writes: the declared format, secrets as references.

``declared_file`` turns a ``Conversion`` into a ``DeclaredFile``
(``schemas/declared/file.py``): each secret read from the input becomes the
reference ``env:CONNMGR_SECRET_<NAME>_<FIELD>`` (``placeholder_reference``),
made unique in the file by a ``_2``, ``_3``… suffix when two connections' names
differ only in characters the variable name cannot hold; a secret the source
already named (``env:TOKEN`` from Gatus) keeps its reference. The values stay
in ``secret_environment``, for an ``--apply`` in the same process only
(``docs/importers.md``, "Secrets").

``write_atomically`` writes the text to a temporary file beside the target and
renames it, so the target is whole or untouched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connmgr.schemas.declared.file import DeclaredFile

from .entries import Conversion, ImportedConnection, declared_document


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """The file to write, and the values of the ``env:`` references it makes up."""

    declared: DeclaredFile
    secret_environment: dict[str, SecretStr] = field(repr=False)

    def environment_names(self) -> list[str]:
        """Every ``env:`` name the file refers to, in file order, once each."""
        names = [
            reference.removeprefix("env:")
            for connection in self.declared.connections
            for reference in connection.secrets.values()
            if reference.startswith("env:")
        ]
        return list(dict.fromkeys(names))


def declared_file(conversion: Conversion, source: str) -> ImportedFile:
    """The conversion as a connections file of ``source``."""
    taken: set[str] = set()
    environment: dict[str, SecretStr] = {}
    documents = [_document(c, taken, environment) for c in conversion.connections]
    declared = DeclaredFile.model_validate({"source": source, "connections": documents})
    return ImportedFile(declared, environment)


def _document(
    connection: ImportedConnection, taken: set[str], environment: dict[str, SecretStr]
) -> dict[str, Any]:
    document = declared_document(connection)
    for secret_name, value in connection.secrets.items():
        reference = _unique(document["secrets"][secret_name], taken)
        document["secrets"][secret_name] = reference
        environment[reference.removeprefix("env:")] = value
    return document


def _unique(reference: str, taken: set[str]) -> str:
    candidate, counter = reference, 1
    while candidate in taken:
        counter += 1
        candidate = f"{reference[:124]}_{counter}"
    taken.add(candidate)
    return candidate


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole, or leave ``path`` as it was."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
