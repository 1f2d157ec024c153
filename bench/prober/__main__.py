"""The prober bench: broker-fired health checks at scale, on PostgreSQL.

    .venv/bin/python -m bench.prober [--connections 10000] [--interval 10]
                                     [--duration 300] [--replicas 2]

It starts a private nats-server, a fresh database ``connmgr_bench_<hex>``
(dropped after), local check targets (TCP accept-and-close and aiohttp
``/health`` listeners, several ports each; the machine's Redis on 6379), and as
processes of their own ``connmgr worker encryptor``, ``relay`` and ``--replicas``
x ``prober``. The connections are created through the encryptor: create
commands (redis, tcp and http in turn) published at ``connections / interval``
per second; the relay publishes their events and the probers' schedule keeper
gives each one its JetStream schedule (``@every <interval>s``). After a warm-up
of one interval past the last schedule, it measures for ``--duration`` seconds
and prints one ``name: value`` line per figure (see ``window`` for how
samples are judged, ``storage`` for the storage figures):

- ``expected_checks_per_s``, ``achieved_checks_per_s`` (samples per second);
- ``expected_checks``, ``missed_checks``, ``doubled_checks``,
  ``duplicate_sequences`` (all per connection per interval slot of the window),
  ``redelivered_checks`` (the prober consumer's redeliveries, whole run);
- ``schedule_lag_p50_ms``, ``schedule_lag_p99_ms``, ``schedule_lag_max_ms``:
  ``checked_at`` minus the moment the schedule was due; ``spacing_jitter_p99_ms``;
- ``prober_<n>_cpu_percent`` (of one core, over the window), ``prober_<n>_peak_rss_mb``
  (``VmHWM``), for each replica;
- ``samples_rows_per_day``, ``samples_bytes_per_row`` (raw rows, the write buffer),
  ``packed_bytes_per_check`` (blocks; partial hours in a short run: ``--storage-only``
  measures whole ones, ``prober/packing.py``), ``samples_bytes_per_day`` (packed),
  ``rollup_rows_per_day``, ``rollup_bytes_per_row`` (as rows),
  ``minute_rollup_packed_bytes``, ``hour_rollup_packed_bytes`` (a bucket packed),
  ``rollup_bytes_per_day``,
  ``samples_retained_gib`` (7 days packed), ``rollups_retained_gib`` (minute roll-ups
  8 days, hour roll-ups 90: ``storage.samples.DEFAULT_RETENTION``).

``--storage-only`` measures packed samples alone (``packing``), ``--reconcile-only``
the schedule keeper's start-up reconcile alone (``reconcile``).

Remarks (load, other processes' CPU, lag by kind) go to stderr. Everything it
starts is stopped at the end, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bench.harness import bench_main, figure, note, open_stack, percentile
from bench.prober.options import Options, parse_options, prober_env
from bench.prober.packing import measure_packing
from bench.prober.reconcile import measure_reconcile
from bench.prober.run import RunFigures, measure
from connmgr.storage.samples import DEFAULT_RETENTION

GIB = 1024**3


def print_figures(options: Options, run: RunFigures) -> None:
    window, storage = run.window, run.storage
    figure("expected_checks_per_s", options.connections / options.interval)
    figure("achieved_checks_per_s", window.in_window / run.window_s)
    figure("expected_checks", window.expected)
    figure("missed_checks", window.missed)
    figure("doubled_checks", window.doubled)
    figure("duplicate_sequences", window.duplicate_sequences)
    figure("redelivered_checks", run.redelivered)
    figure("schedule_lag_p50_ms", percentile(window.lags_ms, 0.50))
    figure("schedule_lag_p99_ms", percentile(window.lags_ms, 0.99))
    figure("schedule_lag_max_ms", max(window.lags_ms))
    figure("spacing_jitter_p99_ms", percentile(window.jitter_ms or [0.0], 0.99))
    for replica in range(1, options.replicas + 1):
        figure(f"prober_{replica}_cpu_percent", run.cpu.percent[f"prober-{replica}"])
        figure(f"prober_{replica}_peak_rss_mb", run.peak_rss_mb[f"prober-{replica}"])
    figure("samples_rows_per_day", storage.samples_rows_per_day)
    figure("samples_bytes_per_row", storage.samples.bytes_per_row)
    figure("packed_bytes_per_check", storage.packed_bytes_per_check)
    figure("samples_bytes_per_day", storage.samples_bytes_per_day)
    figure("rollup_rows_per_day", sum(storage.rollup_rows_per_day.values()))
    figure("rollup_bytes_per_row", storage.rollups.rows.bytes_per_row)
    figure("minute_rollup_packed_bytes", storage.rollups.packed["minute"])
    figure("hour_rollup_packed_bytes", storage.rollups.packed["hour"])
    figure("rollup_bytes_per_day", storage.rollup_bytes_per_day)
    raw_days = DEFAULT_RETENTION.raw / timedelta(days=1)
    figure("samples_retained_gib", raw_days * storage.samples_bytes_per_day / GIB)
    figure("rollups_retained_gib", storage.rollup_bytes_retained(DEFAULT_RETENTION) / GIB)


def remarks(run: RunFigures) -> None:
    window = run.window
    for kind, lags in sorted(window.lags_by_kind.items()):
        note(f"schedule lag p99 of {kind} checks: {percentile(lags, 0.99):.0f} ms")
    if window.fire_delays_ms:
        delay = percentile(window.fire_delays_ms, 0.99)
        note(f"broker firing delay p99: {delay:.0f} ms (±50 ms)")
    cpu = run.cpu
    ours = ", ".join(f"{name} {value:.0f}%" for name, value in sorted(cpu.percent.items()))
    note(
        f"processes followed (alive at the end / at the start of the window): {cpu.followed}; "
        "postgres counts only the backends that lived through the window"
    )
    note(
        f"CPU over the window, % of one core: {ours}; processes not of this run "
        f"{cpu.others_percent:.0f}%; the machine was {cpu.machine_percent:.0f}% busy"
    )


async def run(options: Options) -> None:
    if options.storage_only:
        await measure_packing(options)
        return
    if options.reconcile_only:
        await measure_reconcile(options)
        return
    async with open_stack("prober", keep=options.keep, worker_env=prober_env(options)) as stack:
        figures = await measure(stack, options)
    print_figures(options, figures)
    remarks(figures)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("prober", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
