"""What an importer makes of a peer's file: connections, skipped entries, notes.

``ImportedConnection`` is one connection in connmgr's terms, validated against
the connections file's model (``schemas/declared/connection.py``), so the file
written always loads. Its secret values are held in memory only
(``SecretStr``, left out of ``repr``): the file written gets references instead
(``docs/importers.md``, "Secrets"). A ``Finding`` is a report line: an entry
``skipped`` because it cannot be mapped, with the reason, or a ``note`` on a
loss worth knowing about in an entry that was mapped (an option connmgr has no
field for).

An importer's per-entry function raises ``EntryRefused`` to skip its entry;
``convert_entries`` runs it over every entry and gathers the ``Conversion``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import SecretStr, ValidationError

from connmgr.schemas.connection_auth import ALLOWED_METHODS, secret_fields
from connmgr.schemas.declared.connection import DeclaredConnection
from connmgr.schemas.declared.source import MANAGED_BY_PREFIX
from connmgr.schemas.kinds import Kind
from connmgr.schemas.secret_references import placeholder_reference

MAX_TAGS: Final = 30
UNEXPECTED_SHAPE: Final = "a field holds a value of a type the peer does not write"
_TAG_TEXT = re.compile(r"[^A-Za-z0-9_.:/-]+")


class EntryRefused(Exception):
    """This entry cannot be mapped; ``reason`` says why (never quoting a value)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class ImportedConnection:
    """One connection as connmgr takes it; ``secrets`` in memory only.

    ``references`` are secrets the source already named by reference (a Gatus
    ``${VAR}`` becomes ``env:VAR``): no value was read for them.
    """

    name: str
    kind: Kind
    config: dict[str, Any]
    auth: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    secrets: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    references: Mapping[str, str] = field(default_factory=dict)
    health_check: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """A report line: an entry ``skipped`` with the reason, or a ``note`` on a kept one."""

    verb: Literal["skipped", "note"]
    entry: str
    reason: str

    def line(self) -> str:
        return f"{self.verb} {self.entry}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Conversion:
    """The whole result for one input file."""

    connections: tuple[ImportedConnection, ...]
    skipped: tuple[Finding, ...]
    notes: tuple[Finding, ...]

    def report_lines(self) -> list[str]:
        """One line per skipped entry, then per note: what a user reads."""
        return [item.line() for item in self.skipped] + [item.line() for item in self.notes]


EntryConverter = Callable[[str, Any, list[str]], ImportedConnection]
"""``(entry label, raw entry, notes to append to) -> connection``; raises ``EntryRefused``."""


def convert_entries(entries: Iterable[tuple[str, Any]], convert: EntryConverter) -> Conversion:
    """Convert each entry; a refused or invalid one is skipped with its reason."""
    connections: list[ImportedConnection] = []
    skipped: list[Finding] = []
    notes: list[Finding] = []
    names: set[str] = set()
    for label, raw in entries:
        entry_notes: list[str] = []
        try:
            connection = checked(convert(label, raw, entry_notes))
            if connection.name in names:
                raise EntryRefused("an earlier entry has the same name")
        except EntryRefused as refused:
            skipped.append(Finding("skipped", label, refused.reason))
            continue
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            # A field of a type the peer never writes; the error's text may quote it.
            skipped.append(Finding("skipped", label, UNEXPECTED_SHAPE))
            continue
        names.add(connection.name)
        connections.append(connection)
        notes.extend(Finding("note", label, message) for message in entry_notes)
    return Conversion(tuple(connections), tuple(skipped), tuple(notes))


def checked(connection: ImportedConnection) -> ImportedConnection:
    """The connection if the connections file takes it (``schemas/declared/connection.py``:
    config valid for the kind, auth, health check, tags) and its auth method is one the
    kind takes with every secret it needs."""
    try:
        declared = DeclaredConnection.model_validate(declared_document(connection))
    except ValidationError as error:
        raise EntryRefused(validation_reason(error)) from None
    if declared.auth.method not in ALLOWED_METHODS[connection.kind]:
        raise EntryRefused(
            f"auth method {declared.auth.method} is not one a {connection.kind} takes"
        )
    needed = secret_fields(declared.auth, connection.kind)
    missing = needed.required - declared.secrets.keys()
    if missing:
        raise EntryRefused(
            f"the source has no {', '.join(sorted(missing))} for {declared.auth.method}"
        )
    return connection


def declared_document(connection: ImportedConnection) -> dict[str, Any]:
    """The connection as a connections file holds it: each secret read from the input
    by its placeholder reference (``placeholder_reference``), each one the source
    named by its own."""
    secrets = {name: placeholder_reference(connection.name, name) for name in connection.secrets}
    return {
        "name": connection.name,
        "kind": connection.kind.value,
        "config": connection.config,
        "auth": connection.auth,
        "secrets": secrets | dict(connection.references),
        "health_check": connection.health_check,
        "tags": list(connection.tags),
        "description": connection.description,
    }


def validation_reason(error: ValidationError) -> str:
    """``field: reason`` for each problem, joined; never the value given."""
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"] if not str(part)[:1].isupper())
        problems.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    return "invalid for connmgr: " + "; ".join(problems[:5])


def secret_or_none(value: Any) -> SecretStr | None:
    """A secret value read from the input, or None when it is empty or absent."""
    return SecretStr(str(value)) if value not in (None, "") else None


def tags_of(labels: Iterable[str], notes: list[str]) -> tuple[str, ...]:
    """Peer labels as connmgr tags: other characters become ``-``, at most 64 long."""
    tags: list[str] = []
    for label in labels:
        tag = _TAG_TEXT.sub("-", label.strip()).strip("-")[:64]
        if tag.startswith(MANAGED_BY_PREFIX):
            notes.append("dropped a managed-by: tag: apply sets that marker itself")
        elif tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        notes.append(f"kept the first {MAX_TAGS} of {len(tags)} tags")
    return tuple(tags[:MAX_TAGS])
