"""Pool supervision: a failing loop is restarted with a growing, jittered delay; only
a stop ends it; a worker process stays up through failures and exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from connmgr.runtime.heap import YOUNG_THRESHOLD
from connmgr.runtime.supervision import (
    PoolLoop,
    RestartPolicy,
    start_with_retries,
    supervised,
)
from connmgr.workers.keyring import KeyringError
from support.waiting import wait_for

FAST = RestartPolicy(first_delay_s=0.01, max_delay_s=0.04, healthy_after_s=60.0)


class FlakyPool:
    """Its loop raises ``failures`` times (counting restarts), then runs until stop."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0
        self.restarts = 0
        self.running = asyncio.Event()

    async def loop(self, stop: asyncio.Event) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise RuntimeError("broken")
        self.running.set()
        await stop.wait()

    async def restart(self) -> PoolLoop:
        self.restarts += 1
        return self.loop


async def test_a_failing_loop_is_started_again_until_it_runs() -> None:
    pool, stop = FlakyPool(failures=3), asyncio.Event()
    task = asyncio.create_task(supervised("flaky", pool.loop, pool.restart, FAST)(stop))
    await asyncio.wait_for(pool.running.wait(), 10)
    assert (pool.starts, pool.restarts) == (4, 3)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_pool_that_keeps_failing_never_ends_the_supervisor_but_a_stop_does() -> None:
    pool, stop = FlakyPool(failures=10**6), asyncio.Event()
    task = asyncio.create_task(supervised("broken", pool.loop, pool.restart, FAST)(stop))
    await wait_for(lambda: pool.starts >= 5, message="restarted again and again")
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_stop_during_the_delay_ends_at_once() -> None:
    pool, stop = FlakyPool(failures=1), asyncio.Event()
    slow = RestartPolicy(first_delay_s=3600.0, max_delay_s=3600.0)
    task = asyncio.create_task(supervised("slow", pool.loop, pool.restart, slow)(stop))
    await wait_for(lambda: pool.starts == 1, message="the first start failed")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert pool.restarts == 0


async def test_a_failing_restart_is_one_more_failure_not_the_end() -> None:
    pool, stop, attempts = FlakyPool(failures=1), asyncio.Event(), []

    async def restart() -> PoolLoop:
        attempts.append(1)
        if len(attempts) == 1:
            raise KeyringError("not yet")
        return pool.loop

    task = asyncio.create_task(supervised("p", pool.loop, restart, FAST)(stop))
    await asyncio.wait_for(pool.running.wait(), 10)
    assert len(attempts) == 2
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("failures", [1, 2, 3, 4, 8, 20])
def test_the_delay_grows_with_jitter_up_to_its_cap(failures: int) -> None:
    policy = RestartPolicy(first_delay_s=1.0, max_delay_s=60.0)
    ceiling = min(60.0, 2.0 ** (failures - 1))
    delays = [policy.delay_s(failures) for _ in range(200)]
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1  # jittered


async def test_a_key_ring_failure_at_start_is_fatal_a_transient_one_is_retried() -> None:
    stop, calls = asyncio.Event(), []

    async def transient_then_up() -> PoolLoop:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("the broker is not there yet")
        return FlakyPool(0).loop

    assert await start_with_retries("p", transient_then_up, stop, FAST) is not None
    assert len(calls) == 3

    async def fails_closed() -> PoolLoop:
        raise KeyringError("the key ring cannot open a stored data key")

    with pytest.raises(KeyringError):
        await start_with_retries("p", fails_closed, stop, FAST)


async def test_a_worker_process_stays_up_through_failures_and_stops_on_sigterm(
    nats_url: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONNMGR_")},
        "CONNMGR_NATS_URL": nats_url,
        "CONNMGR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db.sqlite",
        "CONNMGR_HEALTH_PORT": "0",
    }
    script = Path(__file__).with_name("flaky_worker.py")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        "relay",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while "running" not in lines:
            raw = await asyncio.wait_for(process.stdout.readline(), 60)
            assert raw, f"the worker exited: {lines}"
            lines.append(raw.decode().strip())
        assert [line for line in lines if line.startswith("start ")] == [
            "start 1",
            "start 2",
            "start 3",
        ]
        (heap,) = [line for line in lines if line.startswith("heap ")]
        frozen, young = (int(part.split("=")[1]) for part in heap.split()[1:])
        assert frozen > 10_000  # a started worker's heap is settled (runtime.heap)
        assert young == YOUNG_THRESHOLD
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
