"""Prometheus metrics of the worker pools: every name, and the label values each may take.

The metrics live in the process's registry (``prometheus_client.REGISTRY``, with
the process and platform collectors) and are served on the worker's probe port,
``GET /metrics`` (``runtime/health_server.py``), which is unauthenticated and open
to the cluster only (docs/security.md). So no label and no value ever carries a
tenant, a connection or command id, a host or any text a tenant wrote: every label
value is one the code enumerates, and anything else becomes ``other``
(``bounded``). Verbs come from a command's subject (``schemas/bus/subjects.ALL_VERBS``),
reasons from ``schemas/outcomes.REASON_CODES``, kinds and outcomes from their enums
(``metric_labels``).

All in base units (seconds, messages, events). The names are the contract of the
dashboard and the alert rules in ``infra/`` (docs/operations.md), and a test
(tests/infra/test_observability.py) reads them from here, so neither can drift.
The ``record_*`` and ``observe_*`` functions are the only writers; a pool calls one
per message, batch or delivery, never a metric itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Final, TypeVar, cast

from nats.aio.msg import Msg
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Metric
from prometheus_client.metrics import MetricWrapperBase

from connmgr.schemas.bus.consumers import POOL_CONSUMERS
from connmgr.schemas.outcomes import REASON_CODES, CommandOutcome
from connmgr.workers.metric_labels import (
    COMMAND_OUTCOMES,
    CONSUMERS,
    DEAD_LETTER_REASONS,
    NOTIFICATION_RESULTS,
    POOLS,
    bounded,
    enum_label,
    pool_of,
    verb_of,
)

M = TypeVar("M", bound=MetricWrapperBase)
_SERIES: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}

_SECONDS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_SECONDS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
_MESSAGES: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
    return Counter(name, doc, labels, registry=REGISTRY)


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return Gauge(name, doc, labels, registry=REGISTRY)


def _histogram(
    name: str, doc: str, labels: Sequence[str], buckets: Sequence[float] = _SECONDS
) -> Histogram:
    return Histogram(name, doc, labels, buckets=buckets, registry=REGISTRY)


COMMANDS_HANDLED = _counter(
    "connmgr_commands_handled", "Commands given a final outcome.", ("pool", "verb", "outcome")
)
COMMANDS_REJECTED = _counter(
    "connmgr_commands_rejected", "Commands rejected, by reason code.", ("pool", "verb", "reason")
)
COMMAND_HANDLING = _histogram(
    "connmgr_command_handling_seconds",
    "Time from a command's receipt to its final outcome (then acked).",
    ("pool", "verb"),
)
BATCH_SIZE = _histogram(
    "connmgr_batch_size", "Messages per fetched batch.", ("pool",), buckets=_MESSAGES
)
CONSUMER_PENDING = _gauge(
    "connmgr_consumer_pending_messages",
    "Messages of the stream not yet delivered to the durable consumer.",
    ("pool", "consumer"),
)
CONSUMER_ACK_PENDING = _gauge(
    "connmgr_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acked.",
    ("pool", "consumer"),
)
REDELIVERIES = _counter(
    "connmgr_consumer_redeliveries", "Messages received more than once.", ("pool",)
)
DEAD_LETTERS = _counter(
    "connmgr_dead_letters", "Messages set aside on the dead-letter stream.", ("pool", "reason")
)
CHECKS = _counter("connmgr_checks", "Checks run, by outcome.", ("pool", "kind", "outcome"))
CHECK_DURATION = _histogram(
    "connmgr_check_duration_seconds", "Time a check took.", ("pool", "kind")
)
SCHEDULE_LAG = _histogram(
    "connmgr_schedule_lag_seconds",
    "A scheduled check's end minus the second its schedule was due.",
    (),
    buckets=_LAG_SECONDS,
)
RELAY_LAG = _gauge("connmgr_relay_lag_events", "Events of the log not yet relayed.")
RELAY_PUBLISH = _histogram(
    "connmgr_relay_publish_seconds", "Time to publish one event (to the stream's ack).", ()
)
RELAY_PUBLISHED = _counter("connmgr_relay_published", "Events published by the relay.")
NOTIFICATIONS = _counter(
    "connmgr_notifications", "Notification deliveries, by result.", ("format", "result")
)
NOTIFICATION_RETRIES = _counter(
    "connmgr_notification_retries", "Delivery attempts beyond the first.", ("format",)
)
WORKER_READY = _gauge(
    "connmgr_worker_ready", "1 when the process's readiness verdict is ready.", ("pool",)
)


def _series(metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, kept: a lookup costs several times the update.
    Bounded like the series themselves, as every label value is bounded first."""
    key = (metric, labels)
    child = _SERIES.get(key)
    if child is None:
        child = _SERIES[key] = metric.labels(*labels)
    return cast(M, child)


def observe_batch(durable: str, messages: Sequence[Msg]) -> None:
    """A fetched batch: its size, and the messages delivered before."""
    pool = pool_of(durable)
    _series(BATCH_SIZE, pool).observe(len(messages))
    redelivered = sum(1 for message in messages if _num_delivered(message) > 1)
    if redelivered:
        _series(REDELIVERIES, pool).inc(redelivered)


def _num_delivered(message: Msg) -> int:
    try:
        return int(message.metadata.num_delivered)
    except Exception:  # no JetStream metadata: dropped by the adapter anyway
        return 0


def record_command(pool: str, subject: str, outcome: CommandOutcome, started: float) -> None:
    """A command's final outcome; ``started``: ``time.perf_counter()`` at its receipt."""
    pool, verb = bounded(pool, POOLS), verb_of(subject)
    result = bounded(outcome.outcome, COMMAND_OUTCOMES)
    _series(COMMANDS_HANDLED, pool, verb, result).inc()
    if result == "rejected":
        _series(COMMANDS_REJECTED, pool, verb, bounded(outcome.reason, REASON_CODES)).inc()
    _series(COMMAND_HANDLING, pool, verb).observe(time.perf_counter() - started)


def record_dead_letter(pool: str, reason: str) -> None:
    """A message set aside on the dead-letter stream (``dead_letters``)."""
    _series(DEAD_LETTERS, bounded(pool, POOLS), bounded(reason, DEAD_LETTER_REASONS)).inc()


def record_check(pool: str, kind: StrEnum, outcome: StrEnum, latency_ms: float) -> None:
    """A check's outcome and duration; kind and outcome are bounded by their own enums."""
    pool, kind_label = bounded(pool, POOLS), enum_label(kind, type(kind))
    _series(CHECKS, pool, kind_label, enum_label(outcome, type(outcome))).inc()
    _series(CHECK_DURATION, pool, kind_label).observe(max(latency_ms, 0.0) / 1000)


def record_schedule_lag(stored_at: float, checked_at: float) -> None:
    """A scheduled check ended at ``checked_at``; its firing was stored at ``stored_at``
    (epoch seconds). Schedules fire on whole seconds (``prober/placement.py``), so the
    due time is the whole second the firing was stored in (docs/decisions.md)."""
    SCHEDULE_LAG.observe(max(checked_at - math.floor(stored_at), 0.0))


def record_relay_publish(seconds: float) -> None:
    RELAY_PUBLISH.observe(seconds)
    RELAY_PUBLISHED.inc()


def set_relay_lag(events: int) -> None:
    RELAY_LAG.set(max(events, 0))


def record_notification(channel_format: StrEnum, result: str, attempts: int) -> None:
    """One delivery to a channel: its result, and the attempts it made beyond the first."""
    format_label = enum_label(channel_format, type(channel_format))
    _series(NOTIFICATIONS, format_label, bounded(result, NOTIFICATION_RESULTS)).inc()
    if attempts > 1:
        _series(NOTIFICATION_RETRIES, format_label).inc(attempts - 1)


def set_consumer_backlog(durable: str, pending: int, ack_pending: int) -> None:
    pool, consumer = pool_of(durable), bounded(durable, CONSUMERS)
    _series(CONSUMER_PENDING, pool, consumer).set(pending)
    _series(CONSUMER_ACK_PENDING, pool, consumer).set(ack_pending)


def declare_pool(pool: str) -> None:
    """Expose ``pool``'s counters at 0 from the start: ``increase()`` (the dead-letter
    alert) cannot see a series' first increment when that increment creates it."""
    pool = bounded(pool, POOLS)
    if pool in POOL_CONSUMERS:
        _series(REDELIVERIES, pool)
        for reason in DEAD_LETTER_REASONS:
            _series(DEAD_LETTERS, pool, reason)


def set_ready(pool: str, ready: bool) -> None:
    _series(WORKER_READY, bounded(pool, POOLS)).set(1 if ready else 0)


def metric_names() -> frozenset[str]:
    """Every sample name these metrics expose (``_total``, ``_bucket``, … included)."""
    metrics = (value for value in globals().values() if isinstance(value, _METRIC_TYPES))
    return sample_names(family for metric in metrics for family in metric.describe())


def sample_names(families: Iterable[Metric]) -> frozenset[str]:
    """The sample names of metric families by their type (a counter ``x`` is ``x_total``)."""
    return frozenset(
        family.name + suffix for family in families for suffix in _SUFFIXES[family.type]
    )


_METRIC_TYPES: Final = (Counter, Gauge, Histogram)
_SUFFIXES: Final = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}
