"""Test results whose write failed, kept for the retry of their message.

When the database is away, a test's result cannot be recorded and its message is
nak'd. If the message comes back to this replica, the held result is written
instead of checking the target again: an outage must not turn into repeated logins
on the user's systems. Held at most ``HOLD_RESULT_S`` seconds (after that the
result is too old to report as the test's) and at most ``MAX_HELD`` of them, the
oldest dropped first (its message is then simply checked again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from connmgr.storage.command_log import CommandKey
from connmgr.workers.tester.recorder import TestRecord

HOLD_RESULT_S: Final = 300.0
MAX_HELD: Final = 1024


class HeldResults:
    """Records whose write failed, by command id, until written or too old to use."""

    def __init__(
        self,
        max_held: int = MAX_HELD,
        hold_s: float = HOLD_RESULT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_held = max_held
        self.hold_s = hold_s
        self._clock = clock
        self._records: dict[CommandKey, tuple[float, TestRecord]] = {}

    def hold(self, record: TestRecord) -> None:
        self._records.pop(record.key, None)
        self._records[record.key] = (self._clock(), record)
        while len(self._records) > self.max_held:
            del self._records[next(iter(self._records))]

    def get(self, key: CommandKey) -> TestRecord | None:
        held = self._records.get(key)
        if held is None:
            return None
        if self._clock() - held[0] > self.hold_s:
            del self._records[key]
            return None
        return held[1]

    def release(self, key: CommandKey) -> None:
        self._records.pop(key, None)
