"""Wait for effects, never sleep for them: a test that passes only on a fast machine is broken.

``wait_for`` polls until its predicate holds, with a deadline. ``DELIVERY_TIMEOUT_S``
bounds a wait for one message (``subscription.next_msg``): generous, because it is
only ever reached when the message is lost, and a loaded CI machine can stall a
process for seconds (a 5 s bound once failed a run whose broker had delivered).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar, overload

T = TypeVar("T")

DELIVERY_TIMEOUT_S: Final = 30.0


@overload
async def wait_for(
    predicate: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    message: str | None = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


@overload
async def wait_for(
    predicate: Callable[[], T],
    *,
    timeout: float = ...,
    interval: float = ...,
    message: str | None = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


async def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | None = None,
    ignoring: tuple[type[Exception], ...] = (),
) -> object:
    """Call ``predicate`` (sync or async) until it returns something truthy; return that.

    An exception of a type in ``ignoring`` counts as "not yet"; any other one
    propagates at once. At the deadline, raises ``AssertionError`` naming
    ``message`` (or the predicate) and the last result, so a slow machine gives
    a slower pass, never a different outcome.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
        except ignoring as error:
            result = error
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__qualname__", repr(predicate))
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last result: {result!r}"
            )
        await asyncio.sleep(interval)
