"""Fault tests (``docs/reliability.md``): a private cluster of real processes per test.

``start_cluster(ClusterOptions(...))`` starts nats-server (``sync_interval:
always``), a fresh migrated PostgreSQL database, the encryptor replicas, a relay
and optionally the API; everything is stopped after the test, failed or not.
The harness itself lives in ``faultkit``. Process logs go to the test's
``tmp_path``, or to ``$FAULTS_LOG_DIR/<test name>/`` when that is set (pytest
prunes old temporary folders, and a post-mortem may come later).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from faultkit.cluster import DURABLE_JETSTREAM, Cluster, ClusterOptions, StartCluster

from support.fixture_types import NewPostgresUrl, StartNatsServer


@pytest.fixture
async def start_cluster(
    nats_server_factory: StartNatsServer,
    fresh_pg_url: NewPostgresUrl,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[StartCluster]:
    """``await start_cluster(ClusterOptions(...))`` -> a started ``Cluster``."""
    logs = os.environ.get("FAULTS_LOG_DIR")
    workdir = Path(logs) / request.node.name if logs else tmp_path
    async with AsyncExitStack() as clusters:

        async def start(options: ClusterOptions | None = None) -> Cluster:
            server = await nats_server_factory(jetstream_options=DURABLE_JETSTREAM)
            cluster = Cluster(server, await fresh_pg_url(), workdir, options or ClusterOptions())
            clusters.push_async_callback(cluster.close)
            await cluster.start()
            return cluster

        yield start
