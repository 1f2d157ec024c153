"""The shipped NATS files on the wire: TLS for clients, authenticated cluster routes.

Each server runs a shipped file of ``infra/nats`` unchanged but for its store
path and ports (``support.shipped_nats``).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
import pytest

from connmgr.runtime.failures import ServiceUnavailable
from connmgr.runtime.pools import connect_operator
from connmgr.schemas.settings import Settings
from support.broker_tls import BrokerTls
from support.secured_broker import PASSWORDS
from support.shipped_nats import (
    ROUTE_PASSWORD,
    ShippedNats,
    free_port,
    server_env,
    shipped_nats,
)
from support.waiting import wait_for


def operator_settings(url: str, ca: Path | None) -> Settings:
    return Settings(
        nats_url=url,
        nats_operator_password=PASSWORDS["CONNMGR_NATS_OPERATOR_PASSWORD"],
        nats_tls_ca_file=ca,
    )


async def server_info(port: int) -> dict[str, object]:
    """The INFO line a client sees before any handshake."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    info: dict[str, object] = json.loads(line.removeprefix(b"INFO "))
    return info


async def test_tls_conf_serves_clients_over_tls_verified_by_the_configured_ca(
    tmp_path: Path,
) -> None:
    tls = BrokerTls.make(tmp_path / "tls")
    async with shipped_nats("tls.conf", tmp_path, server_env(tls)) as server:
        assert (await server_info(server.client_port))["tls_required"] is True

        url = f"tls://127.0.0.1:{server.client_port}"
        nc = await connect_operator(operator_settings(url, tls.ca))
        try:
            assert (await nc.jetstream().account_info()).limits is not None
        finally:
            await nc.close()

        # The system's trust store does not know the broker's CA: one line, no traceback.
        with pytest.raises(ServiceUnavailable, match="SSLCertVerificationError"):
            await connect_operator(operator_settings(url, None))


async def test_cluster_routes_admit_a_node_with_the_route_password_only(tmp_path: Path) -> None:
    tls = BrokerTls.make(tmp_path / "tls")
    ports = {name: free_port() for name in ("a", "b", "intruder")}

    def node(name: str, password: str) -> dict[str, str]:
        routes = ", ".join(
            f"nats-route://route:{password}@127.0.0.1:{ports[peer]}" for peer in ("a", "b")
        )
        return {
            **server_env(tls),
            "NATS_SERVER_NAME": f"connmgr-nats-{name}",
            "CONNMGR_NATS_ROUTE_PASSWORD": password,
            "CONNMGR_NATS_ROUTES": f"[{routes}]",
        }

    async def route_names(monitor_url: str) -> set[str]:
        async with aiohttp.ClientSession() as session, session.get(f"{monitor_url}/routez") as r:
            return {route["remote_name"] for route in (await r.json())["routes"]}

    def start(name: str, password: str) -> AbstractAsyncContextManager[ShippedNats]:
        """A node: healthy only once a JetStream quorum exists, so wait for it to answer."""
        work, env = tmp_path / name, node(name, password)
        return shipped_nats("cluster.conf", work, env, route_port=ports[name], wait_healthy=False)

    async with start("a", ROUTE_PASSWORD) as a, start("b", ROUTE_PASSWORD):
        await wait_for(
            lambda: route_names(a.monitor_url), message="node b routed to node a", timeout=30
        )
        assert await route_names(a.monitor_url) == {"connmgr-nats-b"}
        async with start("intruder", "not-the-route-password") as intruder:
            await wait_for(
                lambda: "Authentication Failure" in (tmp_path / "a/nats-server.log").read_text(),
                message="node a refused the intruder's route",
                timeout=30,
            )
            assert await route_names(a.monitor_url) == {"connmgr-nats-b"}
            assert "Authentication Failure" not in intruder.log.read_text().split("\n", 1)[0]
