"""A fault test's run: load in the background, readers watching, then the verdict.

``Run.start`` begins publishing the plan and polling the hot connections' versions
from the database (I5); the test injects its faults at points of progress
(``published``, ``handled``) rather than at times, so a slow machine gives a
slower run, never another one; ``finish`` waits for the load, drains, stops the
readers and asserts the invariants on the whole history. ``Run.after`` first
publishes a set-up plan (the connections another pool's commands need) and
waits until it is handled, into the same history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from connmgr.storage.tables import handled_commands
from faultkit.cluster import Cluster
from faultkit.load import Plan
from faultkit.progress import Excuse
from faultkit.publisher import History, Publisher, PublishPolicy
from faultkit.readers import Poller, database_version
from faultkit.verdict import Verdict, assert_invariants
from support.waiting import wait_for

SETUP = PublishPolicy(rate_per_s=1000, in_flight=64)


async def handled_count(cluster: Cluster) -> int:
    async with cluster.engine.connect() as connection:
        count = await connection.execute(select(func.count()).select_from(handled_commands))
        return int(count.scalar_one())


@dataclass
class Run:
    cluster: Cluster
    plan: Plan
    history: History
    load: asyncio.Task[None]
    readers: list[Poller] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        cluster: Cluster,
        plan: Plan,
        policy: PublishPolicy | None = None,
        history: History | None = None,
    ) -> Run:
        """Publish ``plan`` in the background (into ``history``, a fresh one by default)."""
        history = history if history is not None else History()
        load = Publisher(cluster.nc, history, policy or PublishPolicy()).start(plan.commands)
        readers = [
            Poller(f"reader of {cid[:8]} (db)", database_version(cluster.engine, cid)).start()
            for cid in plan.hot
        ]
        return cls(cluster, plan, history, load, readers)

    @classmethod
    async def after(
        cls, cluster: Cluster, setup: Plan, plan: Plan, policy: PublishPolicy | None = None
    ) -> Run:
        """``setup`` published at once and handled, then ``start`` with ``plan``."""
        history = History()
        await Publisher(cluster.nc, history, SETUP).publish_all(setup.commands)
        await wait_for(
            lambda: _at_least(cluster, len(setup)),
            timeout=120,
            interval=0.1,
            message="the set-up commands are handled",
        )
        return cls.start(cluster, plan, policy, history)

    async def published(self, fraction: float, timeout: float = 180.0) -> None:
        """Wait until ``fraction`` of the plan has had its first publish settled."""
        target = int(len(self.plan) * fraction)
        await wait_for(
            lambda: self.history.done() >= target or self.load.done(),
            timeout=timeout,
            interval=0.05,
            message=f"{fraction:.0%} of the load is published",
        )

    async def handled(self, at_least: int, timeout: float = 180.0) -> int:
        """Wait until ``at_least`` commands have an outcome; returns the count."""
        return await wait_for(
            lambda: _at_least(self.cluster, at_least),
            timeout=timeout,
            interval=0.1,
            message=f"{at_least} commands are handled",
            ignoring=(OSError,),
        )

    async def finish(
        self,
        title: str,
        unresolved: frozenset[str] = frozenset(),
        drain_timeout: float = 150.0,
        tolerated_exits: frozenset[str] = frozenset(),
        excuses: Iterable[Excuse] = (),
    ) -> Verdict:
        """Wait for the load, drain, and assert I1-I7 and progress (``excuses``: the
        rejections the fault explains)."""
        await asyncio.wait_for(self.load, timeout=300)
        return await assert_invariants(
            title,
            self.cluster,
            self.history,
            readers=self.readers,
            unresolved=unresolved,
            drain_timeout=drain_timeout,
            tolerated_exits=tolerated_exits,
            excuses=excuses,
        )


async def _at_least(cluster: Cluster, count: int) -> int:
    handled = await handled_count(cluster)
    return handled if handled >= count else 0
