"""The fleet gauges of ``/metrics``: read from the database at each scrape.

Read by ``ConnectionGauges.refresh``, which the ``/metrics`` handler calls once the
token is accepted (``scrape``), from ``storage.reads.fleet_gauges``. Every label is a
value the code bounds; no tenant and no connection id is ever a label, so the series
do not grow with tenants or connections:

=========================================  ==============  ==========================
metric                                     labels          series
=========================================  ==============  ==========================
``connmgr_connections``                    kind, status    kinds x statuses
``connmgr_connection_latency_seconds``     kind, le        kinds x 12 buckets (+ gsum,
                                                           gcount)
``connmgr_checks_last_minute``             outcome         check outcomes
=========================================  ==============  ==========================

- ``connmgr_connections``: live connections (deleted ones never count).
- ``connmgr_connection_latency_seconds``: a gauge histogram (exposed with ``# TYPE
  histogram``, and ``_gsum``/``_gcount`` gauges): live connections by the latency of
  their newest check, so ``histogram_quantile(0.99, sum by (le)
  (connmgr_connection_latency_seconds_bucket))`` is the fleet's p99 now. It is a
  gauge: take no ``rate()`` of it. Connections never checked are left out.
- ``connmgr_checks_last_minute``: samples written in the last minute, by outcome: the
  probers' throughput, whichever pool replica wrote them.
- a connection's own figures (status, newest check, latency percentiles) are on the
  statistics routes, for its tenant's token: ``GET /api/connections/stats?connection_id=``.
- consumer pending counts live in NATS, which the API process does not connect to:
  they are not here (each pool exports its own).
- a scrape whose database reads fail still serves the request metrics; the gauges are
  then absent and the failure is logged.
- the reads cost the database in proportion to the fleet (~160 ms at 100,000
  connections, ``docs/scaling.md``), so scrapes share them: scrapes that arrive while a
  read is in flight wait for that read, and a read that succeeded less than
  ``max_age_s`` ago (``CONNMGR_API_GAUGES_MAX_AGE_S``) serves later scrapes as it is. A
  pair of Prometheus servers, or an operator's ``curl`` loop, then costs one read per
  ``max_age_s`` per API process, not one per scrape. A failed read is not kept: the next
  scrape reads again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.reads import fleet_gauges

MAX_AGE_S: Final = 5.0
"""How long a successful read serves later scrapes (``CONNMGR_API_GAUGES_MAX_AGE_S``)."""
LATENCY_BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds in seconds (Prometheus' default buckets); ``+Inf`` is added."""
_MS_PER_S: Final = 1000.0

Family = GaugeMetricFamily | GaugeHistogramMetricFamily


class ConnectionGauges(Collector):
    """The fleet gauges (module docstring), as read by the latest ``refresh``."""

    def __init__(
        self, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_age_s < 0:
            raise ValueError("max_age_s >= 0 is required")
        self.max_age_s = max_age_s
        self.reads = 0
        """Reads of the database so far (one per refresh that was not shared)."""
        self._clock = clock
        self._families: list[Family] = []
        self._read_at: float | None = None
        """When the families now held were read; None when they are not a successful read."""
        self._reading: asyncio.Task[None] | None = None

    def describe(self) -> Iterable[Family]:
        return []  # names are fixed and unique; nothing to check at registration

    def collect(self) -> Iterable[Family]:
        return list(self._families)

    async def refresh(self, engine: AsyncEngine) -> None:
        """Make the gauges current for the scrape about to be served: join the read in
        flight, keep a successful read younger than ``max_age_s``, or read now. On
        failure, serve none."""
        if self._reading is None:
            read_at = self._read_at
            if read_at is not None and self._clock() - read_at < self.max_age_s:
                return
            self._reading = asyncio.create_task(self._read(engine))
            self._reading.add_done_callback(self._read_ended)
        await asyncio.shield(self._reading)  # one scraper going away does not cancel it

    def _read_ended(self, _: asyncio.Task[None]) -> None:
        self._reading = None

    async def _read(self, engine: AsyncEngine) -> None:
        self.reads += 1
        started = self._clock()
        try:
            self._families = await _read_gauges(engine, datetime.now(UTC))
        except Exception as error:  # never fail the scrape; never log driver text
            self._families, self._read_at = [], None
            logger = structlog.get_logger("connmgr.api")
            logger.warning("api.gauges_unavailable", error_type=type(error).__name__)
        else:
            self._read_at = started


async def _read_gauges(engine: AsyncEngine, now: datetime) -> list[Family]:
    counts = await fleet_gauges.fleet_counts(engine)
    bounds_ms = [bound * _MS_PER_S for bound in LATENCY_BUCKETS_S]
    latencies = await fleet_gauges.newest_latency_histogram(engine, bounds_ms)
    checks = await fleet_gauges.checks_since(engine, now - timedelta(minutes=1))
    connections = GaugeMetricFamily(
        "connmgr_connections", "Live connections.", labels=("kind", "status")
    )
    for count in counts:
        connections.add_metric((count.kind, count.status), count.connections)
    recent = GaugeMetricFamily(
        "connmgr_checks_last_minute", "Checks stored in the last minute.", labels=("outcome",)
    )
    for outcome in checks:
        recent.add_metric((outcome.outcome,), outcome.checks)
    return [connections, _latency_family(latencies), recent]


def _latency_family(histograms: list[fleet_gauges.LatencyHistogram]) -> Family:
    family = GaugeHistogramMetricFamily(
        "connmgr_connection_latency_seconds",
        "Live connections by the latency of their newest check (a gauge: no rate()).",
        labels=("kind",),
    )
    bounds = [str(bound) for bound in LATENCY_BUCKETS_S]  # as Histogram spells them
    for histogram in histograms:
        buckets = [*zip(bounds, histogram.at_most, strict=True), ("+Inf", histogram.checked)]
        family.add_metric((histogram.kind,), buckets, histogram.sum_ms / _MS_PER_S)
    return family
