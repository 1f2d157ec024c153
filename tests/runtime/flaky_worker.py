"""A ``connmgr worker`` process whose pool loop fails twice, then runs until SIGTERM.

Run by ``test_supervision``: the real ``run_worker_process`` (signals, NATS,
database, supervision) around a stand-in pool; it prints one line per start of
the loop, then how its heap is settled (``runtime.heap``) and ``running`` once the
third start runs.
"""

from __future__ import annotations

import asyncio
import gc
import sys

from connmgr.runtime import processes, supervision
from connmgr.runtime.pool_startup import Resources
from connmgr.runtime.supervision import PoolLoop, RestartPolicy
from connmgr.schemas.settings import Settings

FAILURES = 2


def main() -> int:
    starts = 0

    async def start_pool(name: str, settings: Settings, resources: Resources) -> PoolLoop:
        async def loop(stop: asyncio.Event) -> None:
            nonlocal starts
            starts += 1
            print(f"start {starts}", flush=True)
            if starts <= FAILURES:
                raise RuntimeError("the pool's loop broke")
            print(f"heap frozen={gc.get_freeze_count()} young={gc.get_threshold()[0]}")
            print("running", flush=True)
            await stop.wait()

        return loop

    processes.start_pool = start_pool  # type: ignore[assignment]
    supervision.RESTART_POLICY = RestartPolicy(first_delay_s=0.05, max_delay_s=0.2)
    return asyncio.run(processes.run_worker_process(Settings(), sys.argv[1]))


if __name__ == "__main__":
    raise SystemExit(main())
