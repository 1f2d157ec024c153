"""Many concurrent handlers, one database transaction per moment: a micro-batcher.

Handlers ``await writer.submit(item)`` and get their own result back; the
writer collects what was submitted (at most ``max_batch`` items, or whatever
arrived within ``max_delay_s`` of the first) and passes it to ``flush`` in one
call, which writes it in one transaction. When ``flush`` raises, every waiting
handler gets that exception (and naks its message): nothing is half-written.
The writer's task starts in an empty context: it is started by whichever
handler submits first, and must not carry that message's log context
(``message_context``) into the lines it logs for every later batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchWriter(Generic[Item, Result]):
    def __init__(
        self,
        flush: Callable[[list[Item]], Awaitable[list[Result]]],
        *,
        max_batch: int = 256,
        max_delay_s: float = 0.01,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), context=contextvars.Context())
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self._max_delay_s
            while len(batch) < self._max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(timeout, 0)))
                except TimeoutError:
                    break
            await self._write(batch)

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
