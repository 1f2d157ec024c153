"""Reads of one connection by id, coalesced: reads asked together share one SELECT.

Each request for one connection asks ``ConnectionReader.get``. Reads are sent in
rounds: a round takes every read asked so far and sends one tenant-scoped statement
per tenant and per ``max_batch`` ids (``connections_by_id.get_connections``). At most
``max_in_flight`` rounds run at once; reads asked meanwhile wait for the next round,
which starts as soon as one ends. An idle reader sends a read at once (on the next
turn of the event loop); a busy one serves many requests per database round trip.
The views read last (at most ``recent_views``) are kept and passed as known views:
one still at its live version is served without reading and decoding its row again.
On PostgreSQL that version read goes on the driver's own connections
(``live_versions``, one per round in flight); ``close`` closes them.

Contract:

- a read sees every commit that completed before it was asked: its statement starts
  after the ask, so coalescing never serves an older row than a read of its own;
- a kept view is served only while its version is the live one, which its round
  reads (a view is a function of id and version: ``connections_by_id``);
- a statement is one tenant's: another tenant's connection is not found, exactly
  like a missing one;
- a failed statement fails every read of its batch with that exception (the problem
  middleware turns it into a 503 or a 500); a read whose request went away is dropped.
"""

from __future__ import annotations

import asyncio
from asyncio import Future
from collections.abc import Iterable, Mapping
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads.connections_by_id import get_connections, live_versions
from connmgr.storage.reads.views import ConnectionView

MAX_BATCH: Final = 64
MAX_IN_FLIGHT: Final = 2
RECENT_VIEWS: Final = 16_384

Waiting = dict[str, list["Future[ConnectionView | None]"]]
"""Futures of the reads waiting for a statement, by connection id."""


class ConnectionReader:
    """Coalesces ``get`` calls into rounds of batched, tenant-scoped reads (see module)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
        recent_views: int = RECENT_VIEWS,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1 or recent_views < 0:
            raise ValueError("max_batch, max_in_flight >= 1 and recent_views >= 0 are required")
        self.engine = engine
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._pending: dict[str, Waiting] = {}
        self._rounds: set[asyncio.Task[None]] = set()  # the loop keeps weak references only
        self._scheduled = False
        self._recent = RecentViews(recent_views)
        self.versions = live_versions(engine)
        """The version reads on the driver's connections (PostgreSQL), else None."""

    async def close(self) -> None:
        """Close the driver connections of the version reads (at shutdown)."""
        if self.versions is not None:
            await self.versions.close()

    def body(self, view: ConnectionView) -> bytes:
        """The JSON of a view this reader returned (serialised once while it is kept)."""
        return self._recent.body(view)

    async def get(self, tenant: str, connection_id: str) -> ConnectionView | None:
        """The tenant's live connection, or None (absent, deleted or another tenant's)."""
        future: Future[ConnectionView | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(tenant, {}).setdefault(connection_id, []).append(future)
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._pending and not self._scheduled and len(self._rounds) < self.max_in_flight:
            self._scheduled = True
            # Next turn of the loop: the reads asked in this one join the round.
            asyncio.get_running_loop().call_soon(self._start_round)

    def _start_round(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        task = asyncio.create_task(self._round(pending))
        self._rounds.add(task)
        task.add_done_callback(self._round_ended)

    def _round_ended(self, task: asyncio.Task[None]) -> None:
        self._rounds.discard(task)
        self._schedule()

    async def _round(self, pending: dict[str, Waiting]) -> None:
        batches = []
        for tenant, waiting in pending.items():
            ids = list(waiting)
            for start in range(0, len(ids), self.max_batch):
                batch = {key: waiting[key] for key in ids[start : start + self.max_batch]}
                batches.append(self._read(tenant, batch))
        await asyncio.gather(*batches)

    async def _read(self, tenant: str, waiting: Waiting) -> None:
        try:
            ids = list(waiting)
            known = self._recent.among(ids)
            found = await get_connections(self.engine, tenant, ids, known, self.versions)
        except asyncio.CancelledError:
            _fail(waiting, None)
            raise
        except Exception as error:
            _fail(waiting, error)
            return
        self._recent.keep(waiting, found)
        for connection_id, futures in waiting.items():
            view = found.get(connection_id)
            for future in futures:
                if not future.done():
                    future.set_result(view)


def _fail(waiting: Waiting, error: Exception | None) -> None:
    """Every waiting read raises ``error``; None cancels them (shutdown)."""
    for futures in waiting.values():
        for future in futures:
            if future.done():
                continue
            if error is None:
                future.cancel()
            else:
                future.set_exception(error)


class RecentViews:
    """The views read last, by id, at most ``size`` of them (the oldest read goes first),
    each with its JSON once it was asked for."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._views: dict[str, ConnectionView] = {}
        self._bodies: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._views)

    def among(self, ids: Iterable[str]) -> dict[str, ConnectionView]:
        views = self._views
        return {cid: view for cid in ids if (view := views.get(cid)) is not None}

    def keep(self, asked: Iterable[str], found: Mapping[str, ConnectionView]) -> None:
        """Remember what a read found; forget what it asked and did not find."""
        views, bodies = self._views, self._bodies
        for connection_id in asked:
            kept = views.pop(connection_id, None)
            view = found.get(connection_id)
            if kept is not view:
                bodies.pop(connection_id, None)
            if view is not None and self.size:
                views[connection_id] = view
        while len(views) > self.size:
            oldest = next(iter(views))
            del views[oldest]
            bodies.pop(oldest, None)

    def body(self, view: ConnectionView) -> bytes:
        """``view`` as JSON bytes, serialised once while the view is kept."""
        body = self._bodies.get(view.id)
        if body is not None and self._views.get(view.id) is view:
            return body
        body = view.__pydantic_serializer__.to_json(view)
        if self._views.get(view.id) is view:
            self._bodies[view.id] = body
        return body
