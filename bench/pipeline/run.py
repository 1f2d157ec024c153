"""One pipeline bench run, side by side (``__main__`` runs them in order).

- ``write_figures``: the write path under test (``encryptors.Encryptors``): raw and
  end-to-end rates, its CPU per command (``throughput_figures``), then latency at
  the offered rate with the relay running (``latency_figures``), then its peak
  RSS; the workers stop after, to free the CPU for the read side.
- ``sync_cost_figures`` (``--nats-sync compare``): the throughput figures on a
  nats-server with its default ``sync_interval``, then on a fresh one with
  ``always``.
- ``read_figures``: requests/s of the API's get-by-id, and of the bare aiohttp app
  (``targets.py http``) under the same load.

Each figure is printed as soon as it is measured, so a run that fails late still
shows what it measured before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import nats
from nats.aio.client import Client as NatsClient

from bench.harness import (
    PUBLISH_WINDOW,
    TENANT,
    Stack,
    all_running,
    cpu_seconds,
    figure,
    note,
    open_stack,
    percentile,
    phase,
    start_api,
    start_http_target,
    wait_for_relay,
)
from bench.pipeline.encryptors import Encryptors
from bench.pipeline.floor import Floor, floor_rate
from bench.pipeline.history import store_history
from bench.pipeline.latency import offered_load_latency
from bench.pipeline.options import SYNC_OPTIONS, Options, worker_env
from bench.pipeline.read_load import (
    LoadResult,
    LoadSpec,
    drive,
    read_each_once,
    seed_connections,
)
from bench.pipeline.write_load import (
    WritePath,
    build_creates,
    cpu_seconds_of,
    end_to_end_rate,
    raw_publish_rate,
)
from connmgr.producers.client import Producer
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from connmgr.storage.tokens import issue_token

WARMUP_COMMANDS: Final = 100
LOAD_WARMUP_S: Final = 1.0


async def connect(stack: Stack) -> NatsClient:
    """The bench's own client, with the tenant's inbox prefix (for the outcome replies)."""
    return await nats.connect(
        stack.nats_url, name="connmgr-bench", inbox_prefix=tenant_inbox_prefix(TENANT)
    )


async def write_figures(stack: Stack, options: Options) -> None:
    """Throughput, latency and the encryptors' peak RSS; stops the workers after."""
    await store_history(stack.engine, TENANT, options.history)
    encryptors = Encryptors.start(stack, options.encryptors)
    nc = await connect(stack)
    try:
        producer = Producer(nc, tenant=TENANT, actor_id="bench")
        e2e = await floor_and_connmgr(stack, options, nc, encryptors)
        await latency_figures(stack, options, LatencyRun(nc, producer, encryptors, e2e))
        figure("encryptor_peak_rss_mb", encryptors.peak_rss_mb())
    finally:
        await nc.close()
    with phase("stopping the workers"):
        await stack.stop_children()  # frees the CPU for the read side


async def throughput_figures(
    stack: Stack, options: Options, nc: NatsClient, under_test: WritePath, prefix: str = ""
) -> float:
    """The raw and end-to-end rates of ``options.commands`` creates (each figure's name
    after ``prefix``) and the CPU per command of ``under_test``; returns the end-to-end
    rate."""
    producer = Producer(nc, tenant=TENANT, actor_id="bench")
    with phase("encryptor start"):
        await under_test.ready(producer)
    js = nc.jetstream(publish_async_max_pending=PUBLISH_WINDOW)
    with phase("building and sealing commands"):
        warmup = await build_creates(producer, WARMUP_COMMANDS, "warmup")
        items = await build_creates(producer, options.commands, "e2e")
    with phase("warm-up"):
        await end_to_end_rate(js, stack.engine, warmup, under_test)
    raw = await raw_publish_rate(js, items)
    figure(f"{prefix}raw_publish_per_s", raw)
    cpu_before = cpu_seconds_of(under_test)
    with phase("end-to-end run"):
        e2e = await end_to_end_rate(js, stack.engine, items, under_test)
    cpu_used = cpu_seconds_of(under_test) - cpu_before
    figure(f"{prefix}end_to_end_commands_per_s", e2e)
    figure(f"{prefix}end_to_end_ratio", e2e / raw)
    figure(f"{prefix}encryptor_cpu_us_per_command", cpu_used / len(items) * 1e6)
    return e2e


async def floor_and_connmgr(
    stack: Stack, options: Options, nc: NatsClient, encryptors: Encryptors
) -> float:
    """The raw-client floor (``floor``) just before and just after connmgr's throughput
    figures, the same number of commands each: ``floor_e2e_per_s`` is the mean of
    the two, ``floor_ratio`` connmgr's end-to-end rate over it."""
    producer = Producer(nc, tenant=TENANT, actor_id="bench")
    js = nc.jetstream(publish_async_max_pending=PUBLISH_WINDOW)
    floor = await Floor.start(stack, js)
    await encryptors.ready(producer)
    floors: list[tuple[float, float]] = []
    with phase("floor run before"):
        floors.append(await floor_rate(stack, js, producer, floor, options.commands, "floor-a"))
    e2e = await throughput_figures(stack, options, nc, encryptors)
    with phase("floor run after"):
        floors.append(await floor_rate(stack, js, producer, floor, options.commands, "floor-b"))
    note("floor runs (before, after): " + ", ".join(f"{rate:.0f}/s" for rate, _ in floors))
    floor_e2e = sum(rate for rate, _ in floors) / len(floors)
    figure("floor_e2e_per_s", floor_e2e)
    figure("floor_cpu_us_per_command", sum(cpu for _, cpu in floors) / len(floors))
    figure("floor_ratio", e2e / floor_e2e)
    return e2e


async def sync_cost_figures(options: Options) -> None:
    """``--nats-sync compare``: the write figures on a nats-server with its default
    ``sync_interval``, then on a fresh one with ``always``, back to back in one run."""
    rates: dict[str, float] = {}
    for mode in ("default", "always"):
        sync, env = SYNC_OPTIONS[mode], worker_env(options)
        async with open_stack("pipeline", jetstream_options=sync, worker_env=env) as stack:
            encryptors = Encryptors.start(stack, 1, f"encryptor-{mode}")
            nc = await connect(stack)
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
    under_test: WritePath
    end_to_end_rate: float

    def timeout_s(self, count: int) -> float:
        """Room for the backlog to drain when the offered rate exceeds what the pipeline does."""
        return 60.0 + 3 * count / self.end_to_end_rate


async def latency_figures(stack: Stack, options: Options, setup: LatencyRun) -> None:
    """Publish-to-visible latency at the offered rate, with the relay running and caught up."""
    relay = stack.start_worker("relay")
    check = all_running(*setup.under_test.children, relay)
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


async def measure(spec: LoadSpec, name: str, folder: Path) -> LoadResult:
    """A short warm-up, then the measured load."""
    await _warm_up(spec, name, folder)
    return await drive(spec, name, folder / f"{name}.log")


async def measure_served(
    spec: LoadSpec, name: str, folder: Path, server_pid: int, prefix: str = "api"
) -> LoadResult:
    """``measure``, and the server's CPU per request of the measured load as a figure
    (``<prefix>_cpu_us_per_request``): unlike requests/s, barely moved by what else runs."""
    await _warm_up(spec, name, folder)
    cpu_before = cpu_seconds(server_pid)
    result = await drive(spec, name, folder / f"{name}.log")
    cpu_used = cpu_seconds(server_pid) - cpu_before
    figure(f"{prefix}_cpu_us_per_request", cpu_used / max(result.requests, 1) * 1e6)
    return result


async def _warm_up(spec: LoadSpec, name: str, folder: Path) -> None:
    warmup = replace(spec, duration_s=LOAD_WARMUP_S)
    await drive(warmup, f"{name}-warmup", folder / f"{name}-warmup.log")


async def read_figures(stack: Stack, options: Options) -> None:
    """Requests/s of the API's get-by-id against a bare aiohttp handler."""
    with phase(f"storing {options.connections} connections"):
        ids = await seed_connections(stack.engine, TENANT, options.connections)
    ids_file = stack.workdir / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    token = await issue_token(stack.engine, "bench", TENANT, ["read"])
    with phase("API and bare app start"):
        api, bare_url = await start_api(stack), await start_http_target(stack)
    load = _load(api.base_url, ids_file, token, options)
    served = await measure_served(load, "load-api", stack.workdir, api.child.pid)
    figure("api_get_connection_rps", served.rps)
    with phase("reading every stored connection once"):
        await read_each_once(load)
    warm = await measure_served(load, "load-api-warm", stack.workdir, api.child.pid, "api_warm")
    figure("api_warm_get_connection_rps", warm.rps)
    bare = await measure(_load(bare_url, ids_file, token, options), "load-bare", stack.workdir)
    figure("bare_aiohttp_rps", bare.rps)
    figure("api_ratio", served.rps / bare.rps)
    figure("api_warm_ratio", warm.rps / bare.rps)
