"""The event loop a command runs on: uvloop for the long-running pools and the API.

``connmgr worker …`` and ``connmgr api`` run on uvloop where it is installed (the
``server`` extra has it): measured on the pipeline bench, the encryptor spends less
CPU per command on it (``docs/decisions.md``, issue 15). Every other command, and a
client-only install, runs on the standard asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

T = TypeVar("T")
FAST_LOOP_COMMANDS: Final = frozenset({"worker", "api"})


def run_command(coroutine: Coroutine[Any, Any, T], command: str) -> T:
    """``asyncio.run`` of ``coroutine``, on uvloop for a command of ``FAST_LOOP_COMMANDS``."""
    if command.split(" ")[0] in FAST_LOOP_COMMANDS:
        try:
            import uvloop
        except ImportError:  # a client-only install: the standard loop
            pass
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coroutine)
    return asyncio.run(coroutine)
