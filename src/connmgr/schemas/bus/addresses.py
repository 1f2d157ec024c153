"""Reading a subject back into its parts: the tenant, connection and verb or type it names.

The tenant of a message is its subject's, never a body's claim: NATS permissions
decide who may publish under a tenant's subjects (``docs/security.md``, "The
broker boundary"), so the command gate and the log context read the tenant here
and hold the body to it. A parser answers None for a subject ``subjects`` would
not build (a foreign tenant token, an unknown verb, a missing part), and the
caller refuses the message rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from connmgr.schemas.bus.subjects import (
    ALL_VERBS,
    COMMAND_PREFIX,
    EVENT_PREFIX,
    PROBE_PREFIX,
    is_valid_tenant,
)


@dataclass(frozen=True, slots=True)
class CommandAddress:
    tenant: str
    verb: str
    connection_id: str


def parse_command_subject(subject: str) -> CommandAddress | None:
    """Split a command subject into its parts; None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 5 or f"{parts[0]}.{parts[1]}" != COMMAND_PREFIX:
        return None
    tenant, verb, connection_id = parts[2], parts[3], parts[4]
    if not is_valid_tenant(tenant) or verb not in ALL_VERBS:
        return None
    return CommandAddress(tenant=tenant, verb=verb, connection_id=connection_id)


@dataclass(frozen=True, slots=True)
class EventAddress:
    tenant: str
    connection_id: str
    event_type: str


_EVENT_TYPE_RE: Final = re.compile(r"[A-Za-z]{1,64}")


def parse_event_subject(subject: str) -> EventAddress | None:
    """Split an event subject ``connmgr.evt.<tenant>.<id>.<type>``; None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 5 or f"{parts[0]}.{parts[1]}" != EVENT_PREFIX:
        return None
    if not is_valid_tenant(parts[2]) or not parts[3] or not _EVENT_TYPE_RE.fullmatch(parts[4]):
        return None
    return EventAddress(tenant=parts[2], connection_id=parts[3], event_type=parts[4])


@dataclass(frozen=True, slots=True)
class ProbeAddress:
    tenant: str
    connection_id: str


def parse_probe_subject(subject: str) -> ProbeAddress | None:
    """Split a firing's subject ``connmgr.probe.<tenant>.<id>``; None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 4 or f"{parts[0]}.{parts[1]}" != PROBE_PREFIX:
        return None
    if not is_valid_tenant(parts[2]) or not parts[3]:
        return None
    return ProbeAddress(tenant=parts[2], connection_id=parts[3])
