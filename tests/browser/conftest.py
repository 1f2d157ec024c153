"""A real stack and a real browser for the console's tests (docs/console.md).

``console_stack`` runs ``connmgr up`` (as tests/runtime/test_devstack.py does) once
for the module, creates the dev tenant's connections through the CLI (the real
command path: NATS, workers, the log), and puts a neighbour tenant (``globex``) with
a connection and a token of its own beside them in the same database. ``browser``
is Debian's chromium driven by Playwright (``.ci/run`` installs the package).
Screenshots of each step go to ``build/screenshots/`` (``shots``; ignored by git).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.async_api import Browser, Page, async_playwright

from connmgr.storage.database import create_engine
from connmgr.storage.tokens import issue_token
from runtime.test_devstack import CONNMGR, read_ready_lines, stop_dev_stack
from support.seeds import Seed
from support.services import require_services, service_unavailable

CHROMIUM: Final = "/usr/bin/chromium"
SECRET: Final = "console-Secret-7Qz"
"""The password of the connection the browser creates: never in a request body."""
CHAIN_VERIFY_INTERVAL_S: Final = 2
"""The API walks the hash chain this often (60 s by default) so the audit view has a checkpoint."""
XSS_NAME: Final = "<img src=x onerror=window.__xss=1>"
NEIGHBOUR_NAME: Final = "globex-private-db"
NEIGHBOUR_BULK: Final = 55
"""The neighbour's other connections: with its named one, 56, over one page of 50."""


@dataclass
class ConsoleStack:
    api: str
    token: str
    env: dict[str, str]
    neighbour_token: str
    neighbour_id: str
    connections: dict[str, str] = field(default_factory=dict)
    """The dev tenant's connections by name → id."""

    async def cli(self, *args: str, stdin: bytes | None = None) -> dict[str, Any]:
        """Run a ``connmgr`` command against the stack; its JSON outcome."""
        process = await asyncio.create_subprocess_exec(
            *CONNMGR,
            *args,
            "--json",
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin), 60)
        assert process.returncode == 0, err.decode()
        outcome: dict[str, Any] = json.loads(out)
        return outcome

    async def create(self, name: str, *extra: str) -> str:
        """A postgres connection to the machine's PostgreSQL through the CLI; its id."""
        outcome = await self.cli(
            "create",
            "--name",
            name,
            "--kind",
            "postgres",
            "--config",
            "host=127.0.0.1",
            "--config",
            "database=test",
            "--username",
            "root",
            "--secrets-stdin",
            *extra,
            stdin=json.dumps({"password": SECRET}).encode(),
        )
        assert outcome["outcome"] == "accepted", outcome
        self.connections[name] = outcome["connection_id"]
        return str(outcome["connection_id"])


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        service_unavailable("chromium", f"{CHROMIUM} is missing: apt-get install chromium")


@pytest.fixture(scope="module")
async def console_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleStack]:
    await require_services("nats")
    _require_chromium()
    root = tmp_path_factory.mktemp("console-stack")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNMGR_")}
    env["CONNMGR_API_CHAIN_VERIFY_INTERVAL_S"] = str(CHAIN_VERIFY_INTERVAL_S)
    args = ("up", "--data-dir", str(root / "data"), "--nats-port", "0", "--api-port", "0")
    with open(root / "up.log", "wb") as log:
        process = await asyncio.create_subprocess_exec(
            *CONNMGR, *args, stdout=asyncio.subprocess.PIPE, stderr=log, env=env
        )
    try:
        lines = await read_ready_lines(process)
        cli_env = {
            **env,
            "CONNMGR_NATS_URL": lines["nats"],
            "CONNMGR_API_URL": lines["api"],
            "CONNMGR_API_TOKEN": lines["token"],
        }
        neighbour_token, neighbour_id = await _neighbour(root / "data" / "connmgr.db")
        stack = ConsoleStack(lines["api"], lines["token"], cli_env, neighbour_token, neighbour_id)
        await stack.create("orders-db", "--tag", "team:payments", "--description", "orders")
        await stack.create(XSS_NAME, "--tag", "xss", "--description", "<script>alert(1)</script>")
        yield stack
    finally:
        await stop_dev_stack(process)


async def _neighbour(database: Path) -> tuple[str, str]:
    """Tenant ``globex``: a token and connections the dev tenant must never see."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        token = await issue_token(engine, "globex-console", "globex", ["read"])
        identifier = await Seed(engine).connection(NEIGHBOUR_NAME, tenant="globex")
        for index in range(NEIGHBOUR_BULK):  # more than a page: the dashboard pages
            await Seed(engine).connection(f"globex-bulk-{index:02d}", tenant="globex")
    finally:
        await engine.dispose()
    return token, identifier


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()


SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "build" / "screenshots"
"""In the repository's ignored ``build/``: pytest's own temporary directories keep the
last three runs only, which on a shared machine may be anyone's."""


@pytest.fixture(scope="module")
def shots() -> Path:
    """This run's screenshots: the folder is emptied first."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


Shot = Callable[[Page, str], Awaitable[None]]


@pytest.fixture
def shot(shots: Path, request: pytest.FixtureRequest) -> Shot:
    """``await shot(page, "step")``: a full-page screenshot named after the test and step."""
    counter = iter(range(100))

    async def take(page: Page, step: str) -> None:
        name = f"{request.node.name}-{next(counter):02d}-{step}.png"
        await page.screenshot(path=shots / name, full_page=True)

    return take


@pytest.fixture
async def page(browser: Browser, console_stack: ConsoleStack) -> AsyncIterator[Page]:
    """A fresh tab (own session storage) on the console; CSP violations fail the test."""
    context = await browser.new_context(base_url=console_stack.api)
    tab = await context.new_page()
    violations: list[str] = []
    tab.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    tab.on("pageerror", lambda error: violations.append(f"page error: {error}"))
    yield tab
    await context.close()
    assert violations == []


async def log_in(page: Page, token: str) -> None:
    await page.goto("/")
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("heading", name="Connections").wait_for()
