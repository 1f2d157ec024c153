"""Worker pools run as tasks of a test's stack, stopped when the stack closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Protocol


class Pool(Protocol):
    async def start(self) -> None: ...

    async def run(self, stop: asyncio.Event) -> None: ...


async def run_pools(
    pools: Iterable[Pool], tasks: list[asyncio.Task[None]], exits: contextlib.AsyncExitStack
) -> None:
    """Start each pool and run it as a task in ``tasks``; ``exits`` stops them all
    (waiting up to 30 s for them to finish)."""
    stop = asyncio.Event()

    async def stop_pools() -> None:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    for pool in pools:
        await pool.start()
        tasks.append(asyncio.create_task(pool.run(stop)))
    exits.push_async_callback(stop_pools)
