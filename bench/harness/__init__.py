"""What every bench stands on, one module a concern; the benches import from here.

- ``processes``: children in their own process groups (stopped SIGTERM, then
  SIGKILL), their CPU time and resident set (now, peak) from ``/proc``, a free loopback port.
- ``stack``: a run's services (``open_stack``: a work folder, nats-server, a fresh
  migrated database, a key ring) and the children it starts (workers, the API, the
  local targets), stopped at the end, also on an error, Ctrl-C or SIGTERM; the
  checking workers' settings (``checker_env``).
- ``database``: the run's temporary PostgreSQL database (``migrated_database``)
  and what is read of it.
- ``commands``: ``Outgoing`` commands built before any clock starts, published
  with a bounded window (``publish_all``), and the waits for the workers taking them.
- ``waiting``: polling with a deadline (``wait_for``, ``poll``), checking on every
  round that the children live.
- ``figures``: one ``name: value`` line on stdout per figure, notes on stderr,
  percentiles.
- ``options``: what every command line shares (``bench_parser``: the name and
  ``--record [DIR]``; the types ``count`` and ``positive``, for counts and for
  durations and rates).
- ``results``: the dated result file.
- ``seeding``: many connections of one tenant written straight into the projection.
- ``running``: ``run_bench``, a bench's coroutine as the process's main, and
  ``bench_main``, every bench's ``main``.
"""

from __future__ import annotations

from bench.harness.commands import (
    PUBLISH_WINDOW,
    TENANT,
    Outgoing,
    command,
    publish_all,
    publish_one,
    wait_for_consumer,
    wait_for_seal_key,
)
from bench.harness.database import (
    count_rows,
    log_head,
    migrated_database,
    wait_for_relay,
    wait_for_rows,
)
from bench.harness.errors import BenchError
from bench.harness.figures import Transcript, figure, note, percentile, phase, timed_reads
from bench.harness.options import (
    add_log_level,
    amount,
    bench_parser,
    count,
    log_level_env,
    positive,
)
from bench.harness.processes import (
    CLOCK_TICKS,
    HOST,
    Check,
    ChildProcess,
    all_running,
    cpu_seconds,
    peak_rss_mb,
    rss_mb,
)
from bench.harness.results import Recording, RunInfo, result_text, write_result
from bench.harness.running import bench_main, run_bench
from bench.harness.seeding import seed_connections
from bench.harness.stack import (
    Api,
    Stack,
    checker_env,
    open_stack,
    start_api,
    start_http_target,
    start_targets,
)
from bench.harness.waiting import POLL_S, poll, wait_for

__all__ = [
    "CLOCK_TICKS",
    "HOST",
    "POLL_S",
    "PUBLISH_WINDOW",
    "TENANT",
    "Api",
    "BenchError",
    "Check",
    "ChildProcess",
    "Outgoing",
    "Recording",
    "RunInfo",
    "Stack",
    "Transcript",
    "add_log_level",
    "all_running",
    "amount",
    "bench_main",
    "bench_parser",
    "checker_env",
    "command",
    "count",
    "count_rows",
    "cpu_seconds",
    "figure",
    "log_head",
    "log_level_env",
    "migrated_database",
    "note",
    "open_stack",
    "peak_rss_mb",
    "percentile",
    "phase",
    "poll",
    "positive",
    "publish_all",
    "publish_one",
    "result_text",
    "rss_mb",
    "run_bench",
    "seed_connections",
    "start_api",
    "start_http_target",
    "start_targets",
    "timed_reads",
    "wait_for",
    "wait_for_consumer",
    "wait_for_relay",
    "wait_for_rows",
    "wait_for_seal_key",
    "write_result",
]
