"""The console bench: what the first load transfers, and how soon the dashboard's
first page is usable with many connections stored.

    .venv/bin/python -m bench.console [--connections 10000] [--runs 5] [--record [DIR]]

It creates a fresh PostgreSQL database (dropped after), migrates it, writes
``--connections`` connections of one tenant (``harness.seeding``), serves the API (the
console included) on a loopback port, and drives Debian's chromium with Playwright.
Figures:

- ``first_load_assets_kb``: bytes on the wire (compressed bodies and headers) of the
  console's files from opening ``/`` to a usable dashboard, browser cache empty;
  ``first_load_total_kb``: the same with the API's JSON answers;
  ``first_load_requests``: how many requests that took;
- ``dashboard_usable_ms_p50`` / ``_max`` over ``--runs`` fresh tabs (cache empty
  each time), and ``dashboard_usable_ms_first`` (the first, on a cold server):
  from navigation to the first page's rows and the counts by status shown, as
  Playwright sees it (its polling included);
  ``dashboard_first_page_data_ms_p50``: the page's own clock, navigation start to
  the last byte of the first page's and the counts' answers;
- ``connections_stored``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web
from playwright.async_api import Browser, Page, Request, async_playwright

from bench.harness import (
    BenchError,
    bench_main,
    bench_parser,
    count,
    figure,
    migrated_database,
    percentile,
    phase,
    seed_connections,
)
from connmgr.api import create_app
from connmgr.api.serving import ProblemAppRunner
from connmgr.schemas.settings import Settings
from connmgr.storage.tokens import issue_token

CHROMIUM: Final = "/usr/bin/chromium"
TENANT: Final = "bench"
PAGE_ROWS: Final = 50
USABLE_TIMEOUT_MS: Final = 30_000


@dataclass(frozen=True, slots=True)
class Options:
    connections: int
    runs: int
    record: Path | None = None


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = bench_parser("console")
    parser.add_argument("--connections", type=count, default=10_000)
    parser.add_argument("--runs", type=count, default=5)
    args = parser.parse_args(argv)
    return Options(args.connections, args.runs, args.record)


async def run(options: Options) -> None:
    async with migrated_database() as (url, engine):
        with phase(f"writing {options.connections} connections"):
            await seed_connections(engine, TENANT, options.connections)
        token = await issue_token(engine, "bench-console", TENANT, ["read"])
        runner = ProblemAppRunner(create_app(Settings(database_url=url), engine=engine))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            host, port = runner.addresses[0][:2]
            await measure(f"http://{host}:{port}", token, options.runs)
        finally:
            await runner.cleanup()
    figure("connections_stored", options.connections)


async def measure(base_url: str, token: str, runs: int) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            with phase("first load"):
                await first_load(browser, base_url, token)
            with phase(f"{runs} dashboard loads"):
                loads = [await usable_ms(browser, base_url, token) for _ in range(runs)]
        finally:
            await browser.close()
    timings, in_page = [load[0] for load in loads], [load[1] for load in loads]
    figure("dashboard_usable_ms_first", timings[0])
    figure("dashboard_usable_ms_p50", percentile(timings, 0.5))
    figure("dashboard_usable_ms_max", max(timings))
    figure("dashboard_first_page_data_ms_p50", percentile(in_page, 0.5))


async def first_load(browser: Browser, base_url: str, token: str) -> None:
    context = await browser.new_context(base_url=base_url)
    page = await context.new_page()
    requests: list[Request] = []
    page.on("requestfinished", lambda request: requests.append(request))
    await page.goto("/")
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Log in").click()
    await _wait_usable(page)
    assets = total = 0
    for request in requests:
        sizes = await request.sizes()
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        total += size
        assets += 0 if "/api/" in request.url else size
    await context.close()
    figure("first_load_assets_kb", assets / 1024)
    figure("first_load_total_kb", total / 1024)
    figure("first_load_requests", len(requests))


async def usable_ms(browser: Browser, base_url: str, token: str) -> tuple[float, float]:
    """A fresh tab already logged in (the token put in session storage before any
    script runs): navigation to usable as the bench sees it, and as the page's own
    clock sees it (navigation start to the end of the first page's and the counts'
    answers)."""
    context = await browser.new_context(base_url=base_url)
    await context.add_init_script(f"sessionStorage.setItem('connmgr.token', {token!r})")
    page = await context.new_page()
    started = time.perf_counter()
    await page.goto("/")
    await _wait_usable(page)
    elapsed = (time.perf_counter() - started) * 1000
    in_page = float(await page.evaluate(_FIRST_PAGE_DATA_MS))
    await context.close()
    return elapsed, in_page


_FIRST_PAGE_DATA_MS: Final = """Math.max(...performance.getEntriesByType('resource')
  .filter((e) => /\\/api\\/connections(\\?|\\/health\\/summary)/.test(e.name))
  .map((e) => e.responseEnd))"""


async def _wait_usable(page: Page) -> None:
    rows = page.locator("tr[data-connection]")
    try:
        await rows.nth(PAGE_ROWS - 1).wait_for(timeout=USABLE_TIMEOUT_MS)
        await page.locator('[data-count="total"]').wait_for(timeout=USABLE_TIMEOUT_MS)
    except Exception as error:
        raise BenchError(f"the dashboard was not usable: {type(error).__name__}") from None


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main("console", parse_options, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
