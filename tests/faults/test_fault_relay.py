"""The relay under faults: it never skips an event, whatever commits late.

``docs/reliability.md`` row 7, and the relay's own survival of database and broker
outages.
"""

from __future__ import annotations

import pytest
from faultkit.cluster import StartCluster
from faultkit.direct import append_outcome
from faultkit.load import mixed_plan
from faultkit.outages import hold_fault_for, refusing_connections
from faultkit.publisher import History, PublishPolicy
from faultkit.reruns import TIMING_RERUNS
from faultkit.scenario import Run, handled_count
from faultkit.verdict import Verdict, assert_invariants

pytestmark = [pytest.mark.faults, TIMING_RERUNS]

HOLD_S = 5.0


async def test_a_transaction_holding_a_lower_position_open_is_never_skipped(
    start_cluster: StartCluster,
) -> None:
    """Mid-load, a transaction takes the chain head, appends at position p and stays
    open 5 s. Appends serialise on the chain head, so no later position can commit
    meanwhile (nothing is handled during the hold); once it commits, the relay
    publishes p and everything after it, each once, in log order (I7)."""
    cluster = await start_cluster()
    run = Run.start(cluster, mixed_plan(), PublishPolicy(rate_per_s=90))
    await run.published(0.4)
    during: list[int] = []

    async def hold() -> None:
        during.append(await handled_count(cluster))
        await hold_fault_for(HOLD_S)
        during.append(await handled_count(cluster))

    async with cluster.fault(f"a transaction holds position p open {HOLD_S:.0f} s"):
        position = await append_outcome(cluster, run.history, while_held=hold)
    result = await run.finish("a lower position held open while others wait")
    assert during[0] == during[1], f"commands were handled during the hold: {during}"
    positions = {event.event_id: event.position for event in result.snapshot.events}
    relayed = [positions[message.event_id] for message in result.snapshot.relayed]
    assert relayed == sorted(relayed), "the relay published out of log order"
    assert any(p > position for p in relayed), "nothing committed after the held position"


async def test_the_relay_survives_a_database_outage(start_cluster: StartCluster) -> None:
    """An outcome is written, then PostgreSQL refuses connections 3 s. The relay does
    not exit (no process finding), and I1-I7 hold: its one event is relayed, once."""
    cluster = await start_cluster()
    history = History()
    await append_outcome(cluster, history)
    async with (
        cluster.fault("PostgreSQL refuses connections 3 s"),
        refusing_connections(cluster.database),
    ):
        await hold_fault_for(3.0)
    result = await assert_invariants("relay vs a database outage", cluster, history)
    assert_its_one_event_relayed(result)


async def test_the_relay_survives_a_broker_outage_longer_than_its_publish_timeout(
    start_cluster: StartCluster,
) -> None:
    """nats-server is killed, an outcome written, and the server kept down 8 s, longer
    than the relay's publish timeout. The relay does not exit, and I1-I7 hold: the
    event is relayed once the server is back, once."""
    cluster = await start_cluster()
    history = History()
    async with cluster.fault("nats-server down 8 s while an event waits to be relayed"):
        await cluster.kill_nats()
        await append_outcome(cluster, history)
        await hold_fault_for(8.0)
        await cluster.restart_nats()
    result = await assert_invariants("relay vs a broker outage", cluster, history)
    assert_its_one_event_relayed(result)


def assert_its_one_event_relayed(result: Verdict) -> None:
    """The relay's progress: the one outcome written is on the event stream, once."""
    (event,) = result.snapshot.events
    relayed = [message.event_id for message in result.snapshot.relayed]
    assert relayed == [event.event_id], relayed
