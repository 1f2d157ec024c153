"""The pipeline bench: commands in, projection rows out, and the read API, on PostgreSQL.

    .venv/bin/python -m bench.pipeline [--commands N] [--rate 500] [--connections 10000]
                                       [--duration 10] [--api-duration 10] [--encryptors 1]
                                       [--nats-sync default|always|compare]

It starts a private nats-server (temporary store), a fresh database
``connmgr_bench_<hex>`` on 127.0.0.1:5432, and the encryptor as its own process
(``connmgr worker encryptor``), then prints one ``name: value`` line per figure:

- ``raw_publish_per_s``: create commands (real sealed secrets) published to a
  throw-away stream on another subject: what a Python client publishes at all;
- ``end_to_end_commands_per_s``: the same commands to ``CONNMGR_CMD``, from the
  first publish until all are projection rows; ``end_to_end_ratio`` = e2e / raw;
  ``encryptor_cpu_us_per_command``: the encryptors' CPU time in that run per command;
- ``latency_p50_ms`` / ``latency_p99_ms``: publish-to-visible at ``--rate``/s for
  ``--duration`` s (the outcome reply, sent after the commit); with the relay
  running, ``relay_latency_p50_ms`` / ``relay_latency_p99_ms`` to its event;
- ``encryptor_peak_rss_mb``: the largest ``VmHWM`` of the ``--encryptors`` replicas (1);
- ``api_get_connection_rps``, ``bare_aiohttp_rps``, ``api_ratio``: requests/s of
  ``GET /api/connections/{id}`` (``connmgr api``, ``--connections`` stored) and of
  a bare aiohttp JSON handler, each loaded from another process (wrk if installed);
  ``api_cpu_us_per_request``: the API process's CPU time per request of that load;
- ``api_warm_*``: the same three once every stored connection has been read
  (the steady state of an API that has served a while: every view kept).

``--reads-only`` prints only the read figures (``api_*``, ``api_warm_*`` and
``bare_aiohttp_rps``).

``--nats-sync compare`` prints only the throughput figures, first on a nats-server
with its default ``sync_interval`` (names prefixed ``default_``), then on a fresh one
with ``always`` (``always_``), and ``always_end_to_end_share`` = always / default.

Everything started is stopped at the end, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.harness import bench_main, note, open_stack
from bench.pipeline.options import SYNC_OPTIONS, Options, parse_options, worker_env
from bench.pipeline.run import read_figures, sync_cost_figures, write_figures


async def run(options: Options) -> None:
    if options.nats_sync == "compare":
        await sync_cost_figures(options)
        return
    sync, env = SYNC_OPTIONS[options.nats_sync], worker_env(options)
    async with open_stack("pipeline", jetstream_options=sync, worker_env=env) as stack:
        note(f"nats-server sync_interval: {options.nats_sync}; workers log at {options.log_level}")
        if not options.reads_only:
            await write_figures(stack, options)
        await read_figures(stack, options)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("pipeline", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
