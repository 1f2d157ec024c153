"""The connection gauges of ``/metrics``: read from the database at each scrape.

Read across tenants (``storage.fleet_reads``) by ``ConnectionGauges.refresh`` just
before the ``metrics`` route is served; their labels and series are bounded:

=================================  =========================  ==========================
metric                             labels                     series
=================================  =========================  ==========================
``connmgr_connections``            tenant, kind, status       tenants x kinds x statuses
``connmgr_connection_up``          tenant, connection_id,     one per live connection with
                                   kind                       a known status, capped
``connmgr_connection_latency_ms``  tenant, connection_id,     one per live connection
                                   kind                       checked at least once, capped
``connmgr_checks_last_minute``     tenant, outcome            tenants x check outcomes
``connmgr_connection_gauges_capped``  (none)                  1
=================================  =========================  ==========================

- ``up`` is 1 for ``healthy`` and ``degraded``, 0 for ``down``, ``flapping`` and
  ``suspended``; a connection still ``unknown`` has no ``up`` series. The latency is
  the newest sample's. ``connmgr_checks_last_minute`` counts samples written in the
  last minute: the probers' throughput, whichever pool replica wrote them.
- the cap: with more than ``CONNECTION_SERIES_LIMIT`` live connections, the two
  per-connection gauges are left out entirely (never an arbitrary subset), the
  aggregates remain and ``connmgr_connection_gauges_capped`` is 1.
- consumer pending counts live in NATS, which the API process does not connect to:
  they are not here (each pool logs its own).
- a scrape whose database reads fail still serves the request metrics; the gauges are
  then absent and the failure is logged.

The gauges name tenants and connection ids: serve ``/metrics`` to the scraper only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.health import HealthStatus
from connmgr.storage import fleet_reads as reads

CONNECTION_SERIES_LIMIT: Final = 10_000
_UP: Final[dict[str, int]] = {
    HealthStatus.HEALTHY: 1,
    HealthStatus.DEGRADED: 1,
    HealthStatus.DOWN: 0,
    HealthStatus.FLAPPING: 0,
    HealthStatus.SUSPENDED: 0,
}
_PER_CONNECTION: Final = ("tenant", "connection_id", "kind")


class ConnectionGauges(Collector):
    """The connection gauges (module docstring), as read by the latest ``refresh``."""

    def __init__(self, limit: int = CONNECTION_SERIES_LIMIT) -> None:
        self.limit = limit
        self._families: list[GaugeMetricFamily] = []

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # names are fixed and unique; nothing to check at registration

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return list(self._families)

    async def refresh(self, engine: AsyncEngine) -> None:
        """Read the gauges for the scrape about to be served; on failure, serve none."""
        try:
            self._families = await _read_gauges(engine, self.limit, datetime.now(UTC))
        except Exception as error:  # never fail the scrape; never log driver text
            self._families = []
            logger = structlog.get_logger("connmgr.api")
            logger.warning("api.gauges_unavailable", error_type=type(error).__name__)


Rows = Iterable[tuple[tuple[str, ...], float]]
"""Label values, then the value."""


async def _read_gauges(engine: AsyncEngine, limit: int, now: datetime) -> list[GaugeMetricFamily]:
    counts = await reads.status_counts_all_tenants(engine)
    capped = sum(count.connections for count in counts) > limit
    gauges = [] if capped else await reads.connection_gauges_all_tenants(engine, limit)
    checks = await reads.checks_since_all_tenants(engine, now - timedelta(minutes=1))
    families = [
        _family(
            "connmgr_connections",
            "Live connections.",
            ("tenant", "kind", "status"),
            (((c.tenant, c.kind, c.status), c.connections) for c in counts),
        ),
        _family(
            "connmgr_checks_last_minute",
            "Checks stored in the last minute.",
            ("tenant", "outcome"),
            (((c.tenant, c.outcome), c.checks) for c in checks),
        ),
        _family(
            "connmgr_connection_gauges_capped",
            "1 when the per-connection gauges were left out (too many connections).",
            (),
            [((), int(capped))],
        ),
    ]
    return families if capped else families + _connection_families(gauges)


def _connection_families(gauges: list[reads.ConnectionGauge]) -> list[GaugeMetricFamily]:
    up = [((g.tenant, g.connection_id, g.kind), _UP[g.status]) for g in gauges if g.status in _UP]
    latency = [
        ((g.tenant, g.connection_id, g.kind), g.latency_ms)
        for g in gauges
        if g.latency_ms is not None
    ]
    return [
        _family("connmgr_connection_up", "1 when healthy or degraded.", _PER_CONNECTION, up),
        _family(
            "connmgr_connection_latency_ms",
            "Latency of the newest check.",
            _PER_CONNECTION,
            latency,
        ),
    ]


def _family(
    name: str, documentation: str, labels: tuple[str, ...], rows: Rows
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family
