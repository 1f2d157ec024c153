"""A started process settles its heap: start-up objects frozen, a larger young generation.

``settle_heap`` changes the interpreter's collector for good, so it runs in a child
interpreter here; the API process is checked in this one with the call recorded.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from connmgr.runtime import processes
from connmgr.runtime.heap import YOUNG_THRESHOLD
from connmgr.schemas.settings import Settings

SETTLED_CHILD = """
import gc, json, weakref
import sqlalchemy, aiohttp  # a started process's heap holds libraries like these
from connmgr.runtime.heap import settle_heap

before = gc.get_threshold()
settle_heap()
frozen = gc.get_freeze_count()

class Node:
    pass

cycle = Node()
cycle.self = cycle
freed = []
weakref.finalize(cycle, freed.append, True)
del cycle
gc.collect()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": frozen,
                  "enabled": gc.isenabled(), "cycle_freed": freed == [True]}))
"""


def test_settling_freezes_the_start_up_heap_and_keeps_collecting_new_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SETTLED_CHILD], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)

    assert report["frozen"] > 10_000  # the libraries' objects, out of the collector's walk
    assert report["after"] == [YOUNG_THRESHOLD, report["before"][1], report["before"][2]]
    assert report["enabled"] is True
    assert report["cycle_freed"] is True  # garbage made after start-up is still found


async def test_the_api_process_settles_its_heap_once_it_is_bound(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stop = asyncio.Event()
    stop.set()  # stop as soon as it has started
    settled: list[bool] = []
    monkeypatch.setattr(processes, "stop_on_signals", lambda: stop)
    monkeypatch.setattr(processes, "settle_heap", lambda: settled.append(True))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite", api_port=0)

    assert await processes.run_api_process(settings) == 0

    assert settled == [True]
