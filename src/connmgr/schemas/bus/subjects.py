"""Building the bus's subjects: one function per subject, and each stream's filter.

A tenant's subjects carry the tenant as their third token, so a broker permission
such as ``connmgr.cmd.<tenant>.>`` holds an identity to its own subjects
(``docs/security.md``, "The broker boundary"); ``TENANT_PATTERN`` keeps a tenant
to one token, with no ``.`` and no wildcard. Every function here is the address
of a channel of the AsyncAPI document, a stream's filter, or a predicate, and the
document's drift test holds it to that (``tests/schemas/test_asyncapi_document.py``).
"""

from __future__ import annotations

import re
from typing import Final

from connmgr.schemas.bus.streams import COMMAND_STREAM, KEYS_BUCKET, SEAL_KEY_ENTRY

COMMAND_PREFIX: Final = "connmgr.cmd"
EVENT_PREFIX: Final = "connmgr.evt"
SCHEDULE_PREFIX: Final = "connmgr.schedule"
PROBE_PREFIX: Final = "connmgr.probe"
DEAD_LETTER_PREFIX: Final = "connmgr.dlq"
ADVISORY_PREFIX: Final = "$JS.EVENT.ADVISORY.CONSUMER"
DEAD_LETTER_ADVISORIES: Final = ("MAX_DELIVERIES", "MSG_TERMINATED")
UPGRADE_PREFIX: Final = "connmgr.upgrade"
KV_SUBJECT_PREFIX: Final = "$KV"

TENANT_PATTERN: Final = r"^[a-z0-9_-]{1,64}$"
_TENANT_RE: Final = re.compile(TENANT_PATTERN)

ENCRYPTOR_VERBS: Final = ("create", "update", "rotate", "delete")
ALL_VERBS: Final = (*ENCRYPTOR_VERBS, "test", "check")


def is_valid_tenant(tenant: str) -> bool:
    return _TENANT_RE.fullmatch(tenant) is not None


def command_subject(tenant: str, verb: str, connection_id: str) -> str:
    return f"{COMMAND_PREFIX}.{tenant}.{verb}.{connection_id}"


def command_subjects_all() -> str:
    return f"{COMMAND_PREFIX}.>"


def event_subject(tenant: str, connection_id: str, event_type: str) -> str:
    return f"{EVENT_PREFIX}.{tenant}.{connection_id}.{event_type}"


def event_subjects_all() -> str:
    return f"{EVENT_PREFIX}.>"


def schedule_subject(tenant: str, connection_id: str) -> str:
    """Where a connection's check schedule lives (one message, replaced by rollup)."""
    return f"{SCHEDULE_PREFIX}.{tenant}.{connection_id}"


def schedule_subjects_all() -> str:
    return f"{SCHEDULE_PREFIX}.>"


def probe_subject(tenant: str, connection_id: str) -> str:
    """Where a connection's schedule fires: the prober's scheduled checks."""
    return f"{PROBE_PREFIX}.{tenant}.{connection_id}"


def probe_subjects_all() -> str:
    return f"{PROBE_PREFIX}.>"


def dead_letter_subject(tenant: str, command_id: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{tenant or '_'}.{command_id}"


def dead_letter_subjects() -> list[str]:
    """The dead-letter stream's subjects: our own records and the server's advisories
    for command messages that ran out of deliveries or were terminated."""
    advisories = [f"{ADVISORY_PREFIX}.{kind}.{COMMAND_STREAM}.*" for kind in DEAD_LETTER_ADVISORIES]
    return [f"{DEAD_LETTER_PREFIX}.>", *advisories]


def upgrade_subject(sequence: int) -> str:
    return f"{UPGRADE_PREFIX}.{sequence}"


def seal_key_subject() -> str:
    """Where the seal key document (``sealed.SealKeyInfo``) is stored: KV bucket
    ``connmgr_keys``, key ``seal``, read by producers with a KV get."""
    return f"{KV_SUBJECT_PREFIX}.{KEYS_BUCKET}.{SEAL_KEY_ENTRY}"
