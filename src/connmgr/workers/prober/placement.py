"""When a connection's schedule is published: at its own second, so firings spread.

A JetStream ``@every <interval>s`` schedule first fires one interval after it is
published, so schedules published together (a bulk import, a fleet's replay at
start-up) fire together for ever after. The keeper therefore publishes a
connection's schedule at the first wall-clock second whose offset within the
spread window (the interval, at most ``MAX_SPREAD_S``) is the connection's own
offset (a hash of its id): the firings of any number of connections spread
evenly over the window, and a schedule waits at most ``MAX_SPREAD_S`` to be
published. The broker rounds a schedule's time to the nearest second, so a
connection's schedule is handed out ``LEAD_S`` before its second: a whole
second's placements then have almost a second to be published.

Placements are kept in memory only. One lost with its process (a crash or a stop
before its second came) is placed again by the ``reconcile`` of the next start.

A placement may carry what its adder knew: that no schedule was stored when it
looked (``absent``, the start-up ``reconcile`` of a new fleet). The keeper then puts
expecting none without reading again; a schedule stored since makes the broker
refuse the put, and the keeper reads and tries again (``schedules.place_due``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final

import structlog

log = structlog.get_logger("connmgr.schedules")
MAX_SPREAD_S: Final = 60
"""Issue 15: 10 s made a 60 s fleet fire in 10 of its 60 seconds (six times the even
peak); 60 spreads intervals up to a minute fully (docs/decisions.md, "Issue 15")."""
TICK_S: Final = 0.05
LEAD_S: Final = 0.45

Place = Callable[[list[str], set[str]], Awaitable[None]]
"""Publishes the schedules of these connections (whose second has come); the set:
those whose adder saw no stored schedule."""


def offset_of(connection_id: str, window_s: int) -> int:
    digest = hashlib.blake2b(connection_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % window_s


def placement_time(connection_id: str, interval_s: int, now: float) -> float:
    """The first whole second at or after ``now`` that is the connection's offset."""
    window = max(1, min(interval_s, MAX_SPREAD_S))
    second = math.ceil(now)
    return float(second + (offset_of(connection_id, window) - second) % window)


class Placements:
    """Connections waiting for their second; ``run`` hands them to ``place`` when it comes."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._due: dict[str, tuple[float, int, bool]] = {}  # second, interval, absent
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, connection_id: object) -> bool:
        return connection_id in self._due

    def add(self, connection_id: str, interval_s: int, *, absent: bool = False) -> None:
        """Place the connection at its next second (``absent``: its adder saw no
        stored schedule); one already waiting for an earlier second stays as it is."""
        at = placement_time(connection_id, interval_s, self._clock())
        if connection_id in self._due and self._due[connection_id][0] <= at:
            return
        self._due[connection_id] = (at, interval_s, absent)
        heapq.heappush(self._heap, (at, connection_id))

    def take_due(self) -> dict[str, bool]:
        """The connections whose second comes within ``LEAD_S``, each once, earliest
        first, each with whether its adder saw no stored schedule.

        One whose second went by (placements added while the loop was busy, or not
        yet running) waits for its next one instead of joining a burst."""
        now, due = self._clock(), {}
        while self._heap and self._heap[0][0] <= now + LEAD_S:
            at, connection_id = heapq.heappop(self._heap)
            entry = self._due.get(connection_id)
            if entry is None or entry[0] != at:
                continue
            del self._due[connection_id]
            if at < now - LEAD_S:
                self.add(connection_id, entry[1], absent=entry[2])
            else:
                due[connection_id] = entry[2]
        return due

    @staticmethod
    async def hand(due: dict[str, bool], place: Place) -> None:
        """Hand what ``take_due`` returned to ``place``: the connections, and those
        whose adder saw no stored schedule."""
        await place(list(due), {cid for cid, absent in due.items() if absent})

    async def run(self, place: Place, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if due := self.take_due():
                try:
                    await self.hand(due, place)
                except Exception:
                    log.exception("schedule_placement_failed", connections=len(due))
                    for connection_id in due:  # their next second, a window later at most
                        self.add(connection_id, MAX_SPREAD_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
