"""The pipeline bench: commands in, projection rows out, and the read API, on PostgreSQL.

    .venv/bin/python bench/pipeline.py [--commands N] [--rate 500] [--connections 10000]
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
  a bare aiohttp JSON handler, each loaded from another process (wrk if installed).

``--nats-sync compare`` prints only the throughput figures, first on a nats-server
with its default ``sync_interval`` (names prefixed ``default_``), then on a fresh one
with ``always`` (``always_``), and ``always_end_to_end_share`` = always / default.

Everything started is stopped at the end, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import nats
from nats.aio.client import Client as NatsClient

from connmgr.producers.client import Producer
from connmgr.schemas.bus import tenant_inbox_prefix
from connmgr.storage.tokens import issue_token
from harness import (
    ChildProcess,
    cpu_seconds,
    figure,
    load_average,
    note,
    peak_rss_mb,
    percentile,
    phase,
    run_bench,
)
from latency import offered_load_latency, wait_for_relay
from read_load import LOADERS, Loader, LoadResult, LoadSpec, drive, seed_connections
from services import Stack, all_running, open_stack, start_api, start_bare
from write_load import (
    PUBLISH_WINDOW,
    build_creates,
    end_to_end_rate,
    raw_publish_rate,
    wait_for_seal_key,
)

TENANT: Final = "bench"
WARMUP_COMMANDS: Final = 100
SYNC_OPTIONS: Final = {"default": "", "always": "sync_interval: always"}
LOAD_WARMUP_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Options:
    commands: int
    rate: float
    connections: int
    duration: float
    api_duration: float
    api_concurrency: int
    loader: Loader
    nats_sync: str = "default"
    encryptors: int = 1


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description="connmgr pipeline bench (see bench/README.md)")
    parser.add_argument("--commands", type=int, default=2000, help="commands per throughput run")
    parser.add_argument("--rate", type=float, default=500.0, help="offered rate for latency, /s")
    parser.add_argument("--connections", type=int, default=10_000, help="stored for the API run")
    parser.add_argument("--duration", type=float, default=10.0, help="latency run, seconds")
    parser.add_argument("--api-duration", type=float, default=10.0, help="each HTTP load, s")
    parser.add_argument("--api-concurrency", type=int, default=32, help="HTTP connections")
    parser.add_argument("--encryptors", type=int, default=1, help="encryptor replicas")
    parser.add_argument("--loader", choices=LOADERS, default="auto", help="auto: wrk if installed")
    parser.add_argument(
        "--nats-sync",
        choices=["default", "always", "compare"],
        default="default",
        help="nats-server sync_interval: its default (2 min), always (fsync every write), "
        "or compare: only the write figures, under each in turn",
    )
    args = parser.parse_args(argv)
    if min(args.commands, args.connections, args.api_concurrency, args.encryptors) < 1:
        parser.error("--commands, --connections, --api-concurrency, --encryptors must be >= 1")
    if min(args.rate, args.duration, args.api_duration) <= 0:
        parser.error("--rate, --duration and --api-duration must be positive")
    return Options(
        args.commands, args.rate, args.connections, args.duration, args.api_duration,
        args.api_concurrency, args.loader, args.nats_sync, args.encryptors,
    )  # fmt: skip


async def write_figures(stack: Stack, options: Options) -> None:
    """Throughput, latency and the encryptor's peak RSS; stops the workers after."""
    encryptors = [
        stack.start_worker("encryptor", f"encryptor-{index}") for index in range(options.encryptors)
    ]
    nc = await nats.connect(
        stack.nats_url, name="connmgr-bench", inbox_prefix=tenant_inbox_prefix(TENANT)
    )
    try:
        producer = Producer(nc, tenant=TENANT, actor_id="bench")
        e2e = await throughput_figures(stack, options, nc, encryptors)
        await latency_figures(stack, options, LatencyRun(nc, producer, encryptors, e2e))
        figure("encryptor_peak_rss_mb", max(peak_rss_mb(child.pid) for child in encryptors))
    finally:
        await nc.close()
    with phase("stopping the workers"):
        await stack.stop_children()  # frees the CPU for the read side


async def throughput_figures(
    stack: Stack,
    options: Options,
    nc: NatsClient,
    encryptors: list[ChildProcess],
    prefix: str = "",
) -> float:
    """The raw and end-to-end rates of ``options.commands`` creates (each figure's name
    after ``prefix``) and the encryptors' CPU per command; returns the end-to-end rate."""
    running = all_running(*encryptors)
    producer = Producer(nc, tenant=TENANT, actor_id="bench")
    with phase("encryptor start"):
        await wait_for_seal_key(producer, running)
    js = nc.jetstream(publish_async_max_pending=PUBLISH_WINDOW)
    with phase("building and sealing commands"):
        warmup = await build_creates(producer, WARMUP_COMMANDS, "warmup")
        items = await build_creates(producer, options.commands, "e2e")
    with phase("warm-up"):
        await end_to_end_rate(js, stack.engine, warmup, running)
    raw = await raw_publish_rate(js, items)
    figure(f"{prefix}raw_publish_per_s", raw)
    cpu_before = sum(cpu_seconds(child.pid) for child in encryptors)
    with phase("end-to-end run"):
        e2e = await end_to_end_rate(js, stack.engine, items, running)
    cpu_used = sum(cpu_seconds(child.pid) for child in encryptors) - cpu_before
    figure(f"{prefix}end_to_end_commands_per_s", e2e)
    figure(f"{prefix}end_to_end_ratio", e2e / raw)
    figure(f"{prefix}encryptor_cpu_us_per_command", cpu_used / len(items) * 1e6)
    return e2e


async def sync_cost_figures(options: Options) -> None:
    """``--nats-sync compare``: the write figures on a nats-server with its default
    ``sync_interval``, then on a fresh one with ``always``, back to back in one run."""
    rates: dict[str, float] = {}
    for mode in ("default", "always"):
        with tempfile.TemporaryDirectory(prefix="connmgr-bench-") as workdir:
            async with open_stack(Path(workdir), jetstream_options=SYNC_OPTIONS[mode]) as stack:
                encryptors = [stack.start_worker("encryptor", f"encryptor-{mode}")]
                nc = await nats.connect(
                    stack.nats_url, name="connmgr-bench", inbox_prefix=tenant_inbox_prefix(TENANT)
                )
                try:
                    prefix = f"{mode}_"
                    rates[mode] = await throughput_figures(stack, options, nc, encryptors, prefix)
                finally:
                    await nc.close()
    figure("always_end_to_end_share", rates["always"] / rates["default"])


@dataclass(frozen=True, slots=True)
class LatencyRun:
    nc: NatsClient
    producer: Producer
    encryptors: list[ChildProcess]
    end_to_end_rate: float

    def timeout_s(self, count: int) -> float:
        """Room for the backlog to drain when the offered rate exceeds what the pipeline does."""
        return 60.0 + 3 * count / self.end_to_end_rate


async def latency_figures(stack: Stack, options: Options, setup: LatencyRun) -> None:
    """Publish-to-visible latency at the offered rate, with the relay running and caught up."""
    relay = stack.start_worker("relay")
    check = all_running(*setup.encryptors, relay)
    with phase("relay catching up"):
        await wait_for_relay(stack.engine, check)
    if options.rate > setup.end_to_end_rate:
        note(
            f"offered {options.rate:g}/s exceeds the end-to-end rate "
            f"{setup.end_to_end_rate:.0f}/s: the latencies include a growing queue"
        )
    reply_prefix = setup.nc.new_inbox()
    count = max(1, round(options.rate * options.duration))
    items = await build_creates(setup.producer, count, "latency", reply_prefix)
    with phase("latency run"):
        latencies = await offered_load_latency(
            setup.nc, items, reply_prefix, options.rate, check, setup.timeout_s(count)
        )
    figure("latency_p50_ms", percentile(latencies.visible, 0.50))
    figure("latency_p99_ms", percentile(latencies.visible, 0.99))
    figure("relay_latency_p50_ms", percentile(latencies.relayed, 0.50))
    figure("relay_latency_p99_ms", percentile(latencies.relayed, 0.99))


def _load(base_url: str, ids_file: Path, token: str, options: Options) -> LoadSpec:
    return LoadSpec(
        base_url, ids_file, token, options.api_duration, options.api_concurrency, options.loader
    )


async def measure(spec: LoadSpec, name: str, workdir: Path) -> LoadResult:
    """A short warm-up, then the measured load."""
    warmup = replace(spec, duration_s=LOAD_WARMUP_S)
    await drive(warmup, f"{name}-warmup", workdir / f"{name}-warmup.log")
    return await drive(spec, name, workdir / f"{name}.log")


async def read_figures(stack: Stack, options: Options) -> None:
    """Requests/s of the API's get-by-id against a bare aiohttp handler."""
    with phase(f"storing {options.connections} connections"):
        ids = await seed_connections(stack.engine, TENANT, options.connections)
    ids_file = stack.workdir / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    token = await issue_token(stack.engine, "bench", TENANT, ["read"])
    with phase("API and bare app start"):
        api_url, bare_url = await start_api(stack), await start_bare(stack)
    api = await measure(_load(api_url, ids_file, token, options), "load-api", stack.workdir)
    figure("api_get_connection_rps", api.rps)
    bare = await measure(_load(bare_url, ids_file, token, options), "load-bare", stack.workdir)
    figure("bare_aiohttp_rps", bare.rps)
    figure("api_ratio", api.rps / bare.rps)


async def run(options: Options) -> None:
    note(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)")
    if options.nats_sync == "compare":
        await sync_cost_figures(options)
        note(f"load average at end: {load_average()}")
        return
    with tempfile.TemporaryDirectory(prefix="connmgr-bench-") as workdir:
        async with open_stack(Path(workdir), SYNC_OPTIONS[options.nats_sync]) as stack:
            note(f"nats-server sync_interval: {options.nats_sync}")
            await write_figures(stack, options)
            await read_figures(stack, options)
            note(f"load average at end: {load_average()}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_bench(run(parse_options(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
