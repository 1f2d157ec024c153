"""The durable consumers each pool pulls from, and the relay's checkpoint.

A durable is one per pool, shared by all replicas of the pool: the server hands
each message to one replica, and redelivers it after ``ack_wait`` when that
replica never acknowledged it. After ``max_deliver`` deliveries a command ends as
``CommandRejected`` plus a dead letter (``docs/reliability.md``);
``max_ack_pending`` bounds what a pool holds unacknowledged at once.
``workers/durables.py`` declares each durable from its spec; ``POOL_CONSUMERS`` is
what readiness, the backlog figures and the metric labels know of each pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from connmgr.schemas.bus.streams import COMMAND_STREAM, EVENT_STREAM, SCHEDULE_STREAM
from connmgr.schemas.bus.subjects import (
    COMMAND_PREFIX,
    ENCRYPTOR_VERBS,
    EVENT_PREFIX,
    probe_subjects_all,
)


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

PROBE_FIRINGS_CONSUMER: Final = ConsumerSpec(
    durable="prober-firings",
    filter_subjects=(probe_subjects_all(),),
    max_deliver=10,
    ack_wait_s=30.0,
    max_ack_pending=20000,
)
"""The prober's durable on ``CONNMGR_SCHED``: the firings of the check schedules."""

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

ALL_DURABLES: Final = tuple(pair for pairs in POOL_CONSUMERS.values() for pair in pairs)
"""Every pool's durable with its stream: what ``connmgr streams ensure`` creates."""

RELAY_CHECKPOINT: Final = "relay"
"""The relay reads the log, not a stream: its position there is kept under this name."""
