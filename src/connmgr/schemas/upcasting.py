"""Upcasting: a stored event document read at the version its model has now.

The log is never rewritten (its rows are hash-chained), so when an event's
data model changes, its ``schema_version`` steps and an *upcaster* is added
here: a pure function from a document at version ``n`` to the same fact at
version ``n + 1``, registered under ``(event type, n)``. ``upcast`` chains
them until no upcaster is registered for the document's version, and stamps
each step's ``schema_version``. Every read path of stored events goes through
it (the projection fold and its rebuild, the API's audit reads, the relay);
``verify_chain`` alone reads the stored bytes, which the hashes cover.

Upcasters take any JSON document and never raise: they look only at the
fields they change and leave a document they cannot read as it is, for the
model's validation to judge. A document without ``schema_version`` is at 1.

The steps so far (``docs/decisions.md``, "E-mail recipients are a field"):

- ``ConnectionCreated`` 1 → 2 and ``ConnectionUpdated`` 1 → 2: e-mail
  recipients were ``notify_to:`` / ``notify_from:`` lines of the description
  and are now the ``notify`` field (``schemas.recipients``). A version-1 event
  that sets a description gets the ``notify`` those lines meant: the addresses
  ``email-validator`` takes, without duplicates, at most ``MAX_RECIPIENTS``, the
  last ``notify_from`` the sender. An update that set a description without
  such lines set ``notify`` to none, as it silenced the channel then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from connmgr.schemas.recipients import MAX_RECIPIENTS, checked_address

Document = dict[str, Any]
Upcaster = Callable[[Document], Document]

_DIRECTIVE: Final = re.compile(r"^\s*(notify_to|notify_from)\s*:(.*)$")
_SEPARATORS: Final = re.compile(r"[,;\s]+")


def notify_in_description(description: object) -> Document | None:
    """The ``notify`` field a version-1 description's directive lines meant, or None."""
    if not isinstance(description, str):
        return None
    recipients: list[str] = []
    sender = None
    for line in description.splitlines():  # any line break, \r included
        if (match := _DIRECTIVE.match(line)) is None:
            continue
        directive, value = match.groups()
        found = [a for item in _SEPARATORS.split(value) if item and (a := checked_address(item))]
        if directive == "notify_to":
            recipients.extend(found)
        elif found:
            sender = found[0]
    if not recipients and sender is None:
        return None
    return {"recipients": list(dict.fromkeys(recipients))[:MAX_RECIPIENTS], "sender": sender}


def _created_notify_from_description(document: Document) -> Document:
    notify = notify_in_description(document.get("description"))
    return document if notify is None else {**document, "notify": notify}


def _updated_notify_from_description(document: Document) -> Document:
    changed = document.get("changed")
    if not isinstance(changed, list) or "description" not in changed:
        return document
    notify = notify_in_description(document.get("description"))
    return {**document, "notify": notify, "changed": sorted({*changed, "notify"})}


UPCASTERS: Final[Mapping[tuple[str, int], Upcaster]] = MappingProxyType(
    {
        ("ConnectionCreated", 1): _created_notify_from_description,
        ("ConnectionUpdated", 1): _updated_notify_from_description,
    }
)
"""``(event type, from-version)`` → the upcaster to ``from-version + 1``."""


def schema_version_of(document: Mapping[str, Any]) -> int:
    """The document's ``schema_version``; 1 when it has none (or none that is a number)."""
    version = document.get("schema_version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def upcast(
    event_type: str,
    document: Mapping[str, Any],
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> Document:
    """``document`` raised through every registered step of ``event_type`` (a new dict;
    the stored one is never changed). A type or version without upcasters comes back
    as it was: an unknown type is no error here."""
    current = dict(document)
    while (step := upcasters.get((event_type, version := schema_version_of(current)))) is not None:
        current = {**step(dict(current)), "schema_version": version + 1}
    return current
