"""Scraping a worker's ``/metrics`` over HTTP from a real probe port, as Prometheus does."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from connmgr.runtime.health import HealthState, Verdict
from connmgr.runtime.health_server import ProbeServer, probe_routes
from connmgr.runtime.supervision import PoolStatus

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Scrape:
    """One scrape: its raw text and every sample by name and labels."""

    text: str
    samples: Mapping[tuple[str, Labels], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist (yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)


def parse(text: str) -> Scrape:
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Scrape(text, samples)


@dataclass(frozen=True)
class MetricsPort:
    port: int
    state: HealthState

    async def scrape(self) -> Scrape:
        return await asyncio.to_thread(self._get)

    def _get(self) -> Scrape:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read().decode()
            assert response.status == 200, body
            assert response.getheader("Content-Type", "").startswith("text/plain")
            return parse(body)
        finally:
            connection.close()


@contextlib.contextmanager
def metrics_port(pool: str) -> Iterator[MetricsPort]:
    """A probe port for ``pool``'s process (ready), serving the process's registry."""
    status = PoolStatus()
    status.running()
    state = HealthState(status, asyncio.Event())
    state.record(Verdict(True))
    server = ProbeServer("127.0.0.1", 0, probe_routes(state, pool))
    server.start()
    assert server.port is not None
    try:
        yield MetricsPort(server.port, state)
    finally:
        server.stop()
