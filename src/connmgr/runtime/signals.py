"""SIGTERM and SIGINT set one stop event: every loop finishes its work in hand and returns."""

from __future__ import annotations

import asyncio
import signal


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
