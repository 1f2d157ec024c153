"""The label values worker metrics may take: only values the code enumerates.

The probe port that serves the metrics is unauthenticated (docs/security.md), so a
label never carries a tenant, an id, a host or any text a tenant wrote: ``bounded``
turns every value the code does not enumerate into ``other``. Verbs are those of
``schemas/bus/subjects.ALL_VERBS``, pools the worker pools, consumers their durables
(``schemas/bus/consumers.POOL_CONSUMERS``), kinds, check outcomes and channel formats the
members of their enums (``enum_label``).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from enum import StrEnum
from typing import Final

from connmgr.schemas.bus.consumers import POOL_CONSUMERS
from connmgr.schemas.bus.subjects import ALL_VERBS

OTHER: Final = "other"
"""The one placeholder for any label value the code does not enumerate."""
POOLS: Final = ("encryptor", "relay", "tester", "prober", "notifier", "nats-auth")
_POOL_OF_DURABLE: Final = {
    spec.durable: pool for pool, consumers in POOL_CONSUMERS.items() for _, spec in consumers
}
CONSUMERS: Final = tuple(_POOL_OF_DURABLE)
COMMAND_OUTCOMES: Final = ("accepted", "rejected")
NOTIFICATION_RESULTS: Final = ("delivered", "pending", "failed")
DEAD_LETTER_REASONS: Final = ("max_deliveries",)


def bounded(value: object, allowed: Collection[str]) -> str:
    """``value`` when the code enumerates it in ``allowed``, else ``other``."""
    return value if isinstance(value, str) and value in allowed else OTHER


def enum_label(value: object, enum: type[StrEnum]) -> str:
    """The value of a member of ``enum`` (or its value's text), else ``other``."""
    return bounded(value, _values(enum))


@functools.cache
def _values(enum: type[StrEnum]) -> frozenset[str]:
    return frozenset(member.value for member in enum)


def pool_of(durable: str) -> str:
    return _POOL_OF_DURABLE.get(durable, OTHER)


def verb_of(subject: str) -> str:
    """The verb of a command subject (``connmgr.cmd.<tenant>.<verb>.<id>``), else ``other``."""
    parts = subject.split(".")
    return bounded(parts[3] if len(parts) == 5 else None, ALL_VERBS)
