"""Every string of the bus: subjects, stream and consumer names, headers, KV buckets.

No other module spells these. Subjects:

- commands ``connmgr.cmd.<tenant>.<verb>.<connection_id>`` on stream ``CONNMGR_CMD``
  (work-queue retention: a command is gone once handled);
- events ``connmgr.evt.<tenant>.<connection_id>.<type>`` on stream ``CONNMGR_EVT``
  (limits retention), published by the relay;
- check schedules ``connmgr.schedule.<tenant>.<connection_id>`` firing into
  ``connmgr.probe.<tenant>.<connection_id>``, both on stream ``CONNMGR_SCHED``
  (work-queue retention), which only the prober writes and reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

COMMAND_STREAM: Final = "CONNMGR_CMD"
EVENT_STREAM: Final = "CONNMGR_EVT"
DEAD_LETTER_STREAM: Final = "CONNMGR_DLQ"
DEAD_LETTER_PREFIX: Final = "connmgr.dlq"
ADVISORY_PREFIX: Final = "$JS.EVENT.ADVISORY.CONSUMER"
DEAD_LETTER_ADVISORIES: Final = ("MAX_DELIVERIES", "MSG_TERMINATED")
COMMAND_PREFIX: Final = "connmgr.cmd"
SCHEDULE_PREFIX: Final = "connmgr.schedule"
EVENT_PREFIX: Final = "connmgr.evt"

KEYS_BUCKET: Final = "connmgr_keys"
SEAL_KEY_ENTRY: Final = "seal"

MSG_ID_HEADER: Final = "Nats-Msg-Id"
SCHEDULE_HEADER: Final = "Nats-Schedule"
SCHEDULE_TARGET_HEADER: Final = "Nats-Schedule-Target"
SCHEDULER_HEADER: Final = "Nats-Scheduler"
ROLLUP_HEADER: Final = "Nats-Rollup"
EXPECTED_SUBJECT_SEQUENCE_HEADER: Final = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE: Final = 10071
"""JetStream's error code for a publish whose expected last sequence did not hold."""
ROLLUP_SUBJECT: Final = "sub"
ORIGINAL_SUBJECT_HEADER: Final = "Connmgr-Original-Subject"
ORIGINAL_SEQUENCE_HEADER: Final = "Connmgr-Original-Sequence"
DEAD_LETTER_REASON_HEADER: Final = "Connmgr-Reason"
REPLY_INBOX_PREFIX: Final = "_INBOX."

MAX_COMMAND_BYTES: Final = 64 * 1024
DUPLICATE_WINDOW_S: Final = 120.0

TENANT_PATTERN: Final = r"^[a-z0-9_-]{1,64}$"
_TENANT_RE: Final = re.compile(TENANT_PATTERN)

ENCRYPTOR_VERBS: Final = ("create", "update", "rotate", "delete")
ALL_VERBS: Final = (*ENCRYPTOR_VERBS, "test", "check")


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A durable pull consumer: one per pool, shared by all replicas of the pool."""

    durable: str
    filter_subjects: tuple[str, ...]
    max_deliver: int
    ack_wait_s: float
    max_ack_pending: int
    new_messages_only: bool = False
    """A new durable starts at new messages instead of the stream's first."""


ENCRYPTOR_CONSUMER: Final = ConsumerSpec(
    durable="encryptor",
    filter_subjects=tuple(f"{COMMAND_PREFIX}.*.{verb}.*" for verb in ENCRYPTOR_VERBS),
    max_deliver=20,
    ack_wait_s=30.0,
    max_ack_pending=2000,
)

TESTER_CONSUMER: Final = ConsumerSpec(
    durable="tester",
    filter_subjects=(f"{COMMAND_PREFIX}.*.test.*",),
    max_deliver=10,
    ack_wait_s=30.0,
    max_ack_pending=4096,
)

PROBER_CONSUMER: Final = ConsumerSpec(
    durable="prober",
    filter_subjects=(f"{COMMAND_PREFIX}.*.check.*",),
    max_deliver=10,
    ack_wait_s=30.0,
    max_ack_pending=20000,
)

SCHEDULE_KEEPER_CONSUMER: Final = ConsumerSpec(
    durable="schedule-keeper",
    filter_subjects=tuple(
        f"{EVENT_PREFIX}.*.*.{event_type}"
        for event_type in (
            "ConnectionCreated",
            "ConnectionUpdated",
            "SecretsRotated",
            "ConnectionDeleted",
        )
    ),
    max_deliver=20,
    ack_wait_s=30.0,
    max_ack_pending=256,
    new_messages_only=True,
)

RELAY_CHECKPOINT: Final = "relay"


def is_valid_tenant(tenant: str) -> bool:
    return _TENANT_RE.fullmatch(tenant) is not None


def command_subject(tenant: str, verb: str, connection_id: str) -> str:
    return f"{COMMAND_PREFIX}.{tenant}.{verb}.{connection_id}"


def command_subjects_all() -> str:
    return f"{COMMAND_PREFIX}.>"


def schedule_subject(tenant: str, connection_id: str) -> str:
    """Where a connection's check schedule lives (one message, replaced by rollup)."""
    return f"{SCHEDULE_PREFIX}.{tenant}.{connection_id}"


def schedule_subjects_all() -> str:
    return f"{SCHEDULE_PREFIX}.>"


def dead_letter_subject(tenant: str, command_id: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{tenant or '_'}.{command_id}"


def dead_letter_subjects() -> list[str]:
    """The dead-letter stream's subjects: our own records and the server's advisories
    for command messages that ran out of deliveries or were terminated."""
    advisories = [f"{ADVISORY_PREFIX}.{kind}.{COMMAND_STREAM}.*" for kind in DEAD_LETTER_ADVISORIES]
    return [f"{DEAD_LETTER_PREFIX}.>", *advisories]


def event_subject(tenant: str, connection_id: str, event_type: str) -> str:
    return f"{EVENT_PREFIX}.{tenant}.{connection_id}.{event_type}"


def event_subjects_all() -> str:
    return f"{EVENT_PREFIX}.>"


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


# --- notifier (issue 4, item 5) --------------------------------------------------
# The notifier reads alert events the relay published and delivers them to the
# tenant's notification channels. Its durable is created with deliver policy
# "new" (see workers/notifier/service.py): a first deployment does not replay the
# event stream's history of alerts.

NOTIFIER_EVENT_TYPES: Final = ("AlertRaised", "AlertResolved")

NOTIFIER_CONSUMER: Final = ConsumerSpec(
    durable="notifier",
    filter_subjects=tuple(f"{EVENT_PREFIX}.*.*.{kind}" for kind in NOTIFIER_EVENT_TYPES),
    max_deliver=12,
    ack_wait_s=60.0,
    max_ack_pending=1024,
    new_messages_only=True,
)


# --- the tenant boundary (issue 9) ------------------------------------------------
# Check schedules live in a stream of their own that only the prober writes and
# reads: a schedule ``connmgr.schedule.<tenant>.<id>`` fires into
# ``connmgr.probe.<tenant>.<id>``. Streams tenants write to allow no schedules,
# rollups or per-message TTLs, and every pool refuses a command that carries a
# header the server interprets (``command_header_refusal``).

SCHEDULE_STREAM: Final = "CONNMGR_SCHED"
PROBE_PREFIX: Final = "connmgr.probe"

# Inboxes are per identity (nats-py's ``inbox_prefix``): each identity may
# subscribe only under its own prefix, so nobody reads another's replies or
# another pool's pull batches.
INBOX_ROOT: Final = "_INBOX"
OPERATOR_INBOX_PREFIX: Final = f"{INBOX_ROOT}.operator"
SERVER_HEADER_PREFIX: Final = "nats-"
"""Headers nats-server interprets all start with ``Nats-`` (compared case-insensitively)."""
EXPECTED_STREAM_HEADER: Final = "Nats-Expected-Stream"
ALLOWED_COMMAND_HEADERS: Final = frozenset({MSG_ID_HEADER.lower(), EXPECTED_STREAM_HEADER.lower()})
"""The only server headers a command may carry: the duplicate-window id, and the
stream the publisher expects its subject to land in (checked by the server at
publish time against the publisher's own subject; nats-py sends it for
``publish(..., stream=…)``, as the Python producer does)."""


def tenant_inbox_prefix(tenant: str) -> str:
    """A tenant's producers receive replies only under this prefix."""
    return f"{INBOX_ROOT}.tenant.{tenant}"


def gateway_inbox_prefix(tenant: str) -> str:
    """The HTTP gateway's inbox when it publishes for ``tenant``."""
    return f"{INBOX_ROOT}.gateway.{tenant}"


def pool_inbox_prefix(pool: str) -> str:
    """A pool's own inbox: its pull batches and JetStream API replies arrive here."""
    return f"{INBOX_ROOT}.pool.{pool}"


def reply_allowed(tenant: str, reply_to: str) -> bool:
    """A command's ``reply_to`` must lie under an inbox prefix of the command's tenant."""
    return any(
        reply_to.startswith(f"{prefix}.") and len(reply_to) > len(prefix) + 1
        for prefix in (tenant_inbox_prefix(tenant), gateway_inbox_prefix(tenant))
    )


def probe_subject(tenant: str, connection_id: str) -> str:
    """Where a connection's schedule fires: the prober's scheduled checks."""
    return f"{PROBE_PREFIX}.{tenant}.{connection_id}"


def command_header_refusal(headers: dict[str, str] | None) -> str | None:
    """The first header a command may not carry (lower-cased), or None.

    Any ``Nats-*`` header but ``Nats-Msg-Id`` and ``Nats-Expected-Stream`` is
    refused: schedules, rollups, TTLs, other expectations, batches, traces, and the
    headers the server adds to a message it fired from a schedule. A command must
    act only through its body.
    """
    for name in headers or {}:
        lowered = name.lower()
        if lowered.startswith(SERVER_HEADER_PREFIX) and lowered not in ALLOWED_COMMAND_HEADERS:
            return lowered
    return None


# --- the schedule stream (issue 9, broker) ----------------------------------------
# Only the prober writes and reads ``CONNMGR_SCHED``: the keeper puts one schedule
# per connection, and the prober consumes the firings through its own durable.


def probe_subjects_all() -> str:
    return f"{PROBE_PREFIX}.>"


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


UPGRADE_STREAM: Final = "CONNMGR_CMD_UPGRADE"
"""Holds the command stream's messages while an upgrade re-creates that stream."""
UPGRADE_PREFIX: Final = "connmgr.upgrade"


def upgrade_subject(sequence: int) -> str:
    return f"{UPGRADE_PREFIX}.{sequence}"


PROBE_FIRINGS_CONSUMER: Final = ConsumerSpec(
    durable="prober-firings",
    filter_subjects=(probe_subjects_all(),),
    max_deliver=10,
    ack_wait_s=30.0,
    max_ack_pending=20000,
)
"""The prober's durable on ``CONNMGR_SCHED``: the firings of the check schedules."""

POOL_CONSUMERS: Final[dict[str, tuple[tuple[str, ConsumerSpec], ...]]] = {
    "encryptor": ((COMMAND_STREAM, ENCRYPTOR_CONSUMER),),
    "tester": ((COMMAND_STREAM, TESTER_CONSUMER),),
    "prober": (
        (COMMAND_STREAM, PROBER_CONSUMER),
        (SCHEDULE_STREAM, PROBE_FIRINGS_CONSUMER),
        (EVENT_STREAM, SCHEDULE_KEEPER_CONSUMER),
    ),
    "notifier": ((EVENT_STREAM, NOTIFIER_CONSUMER),),
}
"""The durables each pool pulls from, with their streams; a pool not named here has none."""


# --- the published contract (issue 13, AsyncAPI) ----------------------------------
# Names the AsyncAPI document (``schemas.asyncapi``) declares beyond those above.

TRACEPARENT_HEADER: Final = "traceparent"
"""W3C Trace Context (https://www.w3.org/TR/trace-context/): accepted on commands."""
TRACEPARENT_PATTERN: Final = r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$"
"""A version-00 ``traceparent``: trace id and parent id in lower-case hex, neither all
zeros, then the flags. Anything else is not the W3C format."""
KV_SUBJECT_PREFIX: Final = "$KV"


def seal_key_subject() -> str:
    """Where the seal key document (``sealed.SealKeyInfo``) is stored: KV bucket
    ``connmgr_keys``, key ``seal``, read by producers with a KV get."""
    return f"{KV_SUBJECT_PREFIX}.{KEYS_BUCKET}.{SEAL_KEY_ENTRY}"
