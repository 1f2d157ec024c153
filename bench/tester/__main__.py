"""The tester bench: tests/s one tester process sustains, against a bare client loop.

    .venv/bin/python -m bench.tester [--tests 2000] [--concurrency 64]
                                     [--per-target 64] [--connections 32]

It starts a private nats-server, a fresh database ``connmgr_bench_<hex>`` (dropped
after), an aiohttp app as the HTTP target, and ``connmgr worker encryptor`` and
``connmgr worker tester`` as processes of their own (``CONNMGR_TESTER_CONCURRENCY``
= ``--concurrency``, ``CONNMGR_TESTER_PER_TARGET`` = ``--per-target``: every
connection of a kind shares one ``host:port``, so the cap must be at least the
concurrency or it, not the tester, sets the rate). It creates ``--connections``
connections per kind (see ``fleet``), warms up, then for each of
``postgres``, ``redis``, ``http`` and ``mixed`` (the three in turn) sends
``--tests`` test commands through the tester (``load``) and right after
runs the same connects in a bare client loop at the same concurrency
(``bare``). One ``name: value`` line per figure, ``<k>`` a kind or ``mixed``:

- ``connmgr_<k>_tests_per_s`` (publish until every outcome is in
  ``handled_commands``), ``bare_<k>_tests_per_s``, ``<k>_ratio`` (connmgr / bare);
- ``tester_<k>_cpu_percent`` (of one core, over the pass), ``tester_<k>_cpu_ms_per_test``,
  ``bare_<k>_cpu_ms_per_test`` (the bench process during the bare loop);
- ``connmgr_<k>_checks_in_flight``, ``bare_<k>_in_flight``: checks (operations) running
  at once on average, by Little's law (sum of their latencies / the pass's time);
- ``tester_<k>_results_per_flush``: results written per recorder transaction
  (``recorded``);
- ``connmgr_<k>_not_ok`` (tests whose outcome was not ``ok``), ``bare_<k>_errors``;
- per kind, from that kind's own pass: ``connmgr_<kind>_latency_p50_ms`` / ``p95`` /
  ``p99`` (``latency_ms`` of the recorded ``ConnectionTested``) and
  ``bare_<kind>_latency_p50_ms`` / ``p95`` / ``p99`` (each bare operation, open to close);
- ``tester_peak_rss_mb`` (``VmHWM`` at the end), ``tester_concurrency``, ``tester_per_target``.

Remarks go to stderr. Everything it starts stops at the end, also on an error,
Ctrl-C or SIGTERM. Loopback only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import nats
from nats.js import JetStreamContext

from bench.harness import (
    PUBLISH_WINDOW,
    TENANT,
    ChildProcess,
    Stack,
    all_running,
    bench_main,
    open_stack,
    peak_rss_mb,
    phase,
    start_http_target,
    wait_for_seal_key,
)
from bench.tester.bare import bare_loop, operations
from bench.tester.figures import Pair, print_figures, remarks
from bench.tester.fleet import KINDS, Fleet, create_fleet, test_commands
from bench.tester.load import PassFigures, run_tests, wait_for_tester
from bench.tester.options import Options, parse_options, tester_env
from connmgr.producers.client import Producer

WARMUP_TESTS: Final = 200
PASSES: Final = (*((kind,) for kind in KINDS), KINDS)  # each kind alone, then mixed


async def measure(stack: Stack, options: Options) -> tuple[dict[str, Pair], float]:
    """Every pass, connmgr then bare; and the tester's peak RSS."""
    encryptor = stack.start_worker("encryptor")
    tester = stack.start_worker("tester")
    with phase("HTTP target start"):
        http_url = await start_http_target(stack)
    producer = await Producer.connect(stack.nats_url, tenant=TENANT, actor_id="bench")
    nc = await nats.connect(stack.nats_url, name="connmgr-bench-tester")
    try:
        with phase("encryptor and tester start"):
            await wait_for_seal_key(producer, all_running(encryptor, tester))
            await wait_for_tester(nc.jetstream(), tester)
        with phase(f"creating {options.connections} connections per kind"):
            fleet = await create_fleet(producer, options.connections, http_url)
        js = nc.jetstream(publish_async_max_pending=PUBLISH_WINDOW)
        passes = await _passes(stack, options, js, fleet, tester, http_url)
        return passes, peak_rss_mb(tester.pid)
    finally:
        await producer.close()
        await nc.close()


async def _passes(
    stack: Stack,
    options: Options,
    js: JetStreamContext,
    fleet: Fleet,
    tester: ChildProcess,
    http_url: str,
) -> dict[str, Pair]:
    ops, kind_of = operations(f"{http_url}/healthz"), fleet.kind_of()

    async def connmgr_pass(kinds: Sequence[str], count: int) -> PassFigures:
        items = test_commands(fleet, kinds, count)
        return await run_tests(js, stack.engine, items, tester, kind_of)

    with phase("warm-up"):
        warmup = min(options.tests, WARMUP_TESTS)
        await connmgr_pass(KINDS, warmup)
        await bare_loop(ops, KINDS, warmup, options.concurrency)
    pairs = {}
    for kinds in PASSES:
        name = kinds[0] if len(kinds) == 1 else "mixed"
        with phase(f"{name} pass"):
            connmgr = await connmgr_pass(kinds, options.tests)
            bare = await bare_loop(ops, kinds, options.tests, options.concurrency)
        pairs[name] = Pair(connmgr, bare)
    return pairs


async def run(options: Options) -> None:
    async with open_stack("tester", worker_env=tester_env(options)) as stack:
        pairs, rss_mb = await measure(stack, options)
    print_figures(pairs, rss_mb, concurrency=options.concurrency, per_target=options.per_target)
    remarks(pairs, options.concurrency)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("tester", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
