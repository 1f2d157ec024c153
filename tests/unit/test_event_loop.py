"""``connmgr worker`` and ``connmgr api`` run on uvloop; every other command on asyncio's
loop (``runtime/event_loop.py``, issue 15)."""

from __future__ import annotations

import asyncio

import uvloop

from connmgr.runtime.event_loop import run_command


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_the_worker_and_api_processes_run_on_uvloop() -> None:
    assert run_command(_loop_type(), "worker encryptor") is uvloop.Loop
    assert run_command(_loop_type(), "api") is uvloop.Loop


def test_an_operator_command_runs_on_the_standard_loop() -> None:
    loop_type = run_command(_loop_type(), "audit verify")
    assert loop_type is not uvloop.Loop
    assert issubclass(loop_type, asyncio.BaseEventLoop)
