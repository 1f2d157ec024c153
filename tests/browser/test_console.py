"""The console in a real browser (Debian's chromium, Playwright) against ``connmgr up``.

Each test names the break it catches; waits are Playwright's ``expect`` with deadlines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from playwright.async_api import Browser, Page, expect

from browser.conftest import (
    NEIGHBOUR_BULK,
    NEIGHBOUR_NAME,
    SECRET,
    XSS_NAME,
    ConsoleStack,
    Shot,
    log_in,
)
from connmgr.schemas.sealed import UnsealError, open_secrets, public_key_info
from support.waiting import wait_for

DEADLINE_MS = 15_000


async def test_a_bad_token_is_refused_and_a_good_one_logs_in_by_keyboard_only(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.get_by_label("API token")).to_be_focused()
    await page.keyboard.type("not-a-token")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("Login failed")
    await shot(page, "refused")

    await page.get_by_label("API token").fill("")
    await page.keyboard.type(console_stack.token)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Log in")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    await shot(page, "logged-in")

    assert console_stack.token not in page.url
    stored = await page.evaluate("sessionStorage.getItem('connmgr.token')")
    assert stored == console_stack.token
    assert await page.evaluate("document.cookie") == ""


async def test_the_dashboard_lists_filters_and_counts_only_the_tokens_tenant(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    await log_in(page, console_stack.token)
    table = page.get_by_role("region", name="Connections")
    await expect(table.get_by_role("link", name="orders-db")).to_be_visible()
    await expect(page.get_by_label("Connections by status")).to_contain_text("total:")
    await shot(page, "list")

    await page.get_by_label("Search").fill("orders")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(table.get_by_role("link")).to_have_count(1)
    await page.get_by_label("Search").fill("")
    await page.get_by_label("Kind").select_option("redis")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(table).to_contain_text("No connections match.")
    await page.get_by_label("Kind").select_option("postgres")
    await page.get_by_label("Tag").fill("team:payments")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(table.get_by_role("link")).to_have_count(1)
    await page.get_by_label("View").select_option("grid")
    await expect(table.get_by_role("listitem")).to_have_count(1)
    await shot(page, "grid-filtered")

    await page.get_by_label("Tag").fill("")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(table.get_by_role("link", name="orders-db")).to_be_visible()
    assert NEIGHBOUR_NAME not in await page.content()


async def test_the_neighbour_token_sees_its_own_connection_never_the_dev_tenants(
    page: Page, console_stack: ConsoleStack
) -> None:
    """Positive control for the test above: the neighbour's rows exist and show for it,
    paged by the server (56 connections: 50, then 6)."""
    await log_in(page, console_stack.neighbour_token)
    table = page.get_by_role("region", name="Connections")
    await expect(table.get_by_role("link", name="globex-bulk-00")).to_be_visible()
    await expect(table.get_by_role("link")).to_have_count(50)
    assert "orders-db" not in await page.content()
    await page.get_by_role("button", name="Next page").click()
    await expect(table.get_by_role("link")).to_have_count(NEIGHBOUR_BULK + 1 - 50)
    await expect(table.get_by_role("link", name=NEIGHBOUR_NAME)).to_be_visible()
    await expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    await page.get_by_role("button", name="Previous page").click()
    await expect(table.get_by_role("link", name="globex-bulk-00")).to_be_visible()
    await page.goto(f"/#/connections/{console_stack.connections['orders-db']}")
    await expect(page.get_by_role("alert")).to_have_text("No such connection.")


async def test_a_name_made_of_html_is_shown_as_text_and_never_runs(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    await log_in(page, console_stack.token)
    await expect(page.get_by_role("link", name=XSS_NAME)).to_be_visible()
    await page.get_by_role("link", name=XSS_NAME).click()
    await expect(page.get_by_role("heading", name=XSS_NAME)).to_be_visible()
    await expect(page.get_by_label("Description")).to_have_text("<script>alert(1)</script>")
    await shot(page, "xss-as-text")

    assert await page.evaluate("window.__xss") is None
    assert await page.locator("main img").count() == 0
    assert await page.locator("main script").count() == 0


async def test_a_connection_created_elsewhere_appears_live_without_a_reload(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    streams: list[int] = []
    page.on(
        "response",
        lambda r: streams.append(r.status) if r.url.endswith("/api/events/stream") else None,
    )
    await log_in(page, console_stack.token)
    await page.evaluate("window.__sameDocument = true")
    await expect(page.get_by_role("link", name="orders-db")).to_be_visible()
    await wait_for(lambda: streams, timeout=10, message="the dashboard's event stream")
    assert streams[0] == 200  # the SSE feed, not the polling fallback

    await console_stack.create("live-arrival")

    await expect(page.get_by_role("link", name="live-arrival")).to_be_visible(timeout=DEADLINE_MS)
    assert await page.evaluate("window.__sameDocument") is True
    await shot(page, "live-arrival")


async def test_the_connection_page_shows_status_charts_and_the_audit_trail(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    checkpoint = await wait_for(
        lambda: _verified_checkpoint(console_stack), timeout=30, interval=0.5
    )
    await log_in(page, console_stack.token)
    await page.get_by_role("link", name="orders-db").click()
    await expect(page.get_by_role("heading", name="orders-db")).to_be_visible()
    trail = page.get_by_role("region", name="Audit trail")
    await expect(trail).to_contain_text("ConnectionCreated")
    verified = trail.locator('[data-checkpoint="ok"]')
    await expect(verified).to_contain_text("Hash chain verified up to position")
    assert int(await verified.get_attribute("data-position") or 0) >= checkpoint["position"] > 0
    await expect(page.get_by_role("img", name="Latency", exact=False)).to_be_visible()
    await expect(page.get_by_role("img", name="Uptime", exact=False)).to_be_visible()
    for action in ("Test", "Check now", "Delete"):
        await expect(page.get_by_role("button", name=action, exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Edit")).to_be_visible()
    await shot(page, "connection-page")
    assert SECRET not in await page.content()


async def _verified_checkpoint(stack: ConsoleStack) -> dict[str, Any] | None:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{stack.api}/api/audit/checkpoint") as response,
    ):
        document: dict[str, Any] = await response.json()
    return document if document["verified"] and document["ok"] else None


async def test_a_template_opens_a_prefilled_form(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    await log_in(page, console_stack.token)
    await page.get_by_role("link", name="Templates").click()
    await page.get_by_label("Category").select_option("database")
    await page.get_by_role("button", name="Filter").click()
    # The list redraws when the filtered page arrives: read a link only after it has.
    await expect(page.get_by_role("heading", level=2)).to_have_text(["database"])
    use = page.get_by_role("link", name="Use template").first
    label = await use.get_attribute("aria-label")
    assert label is not None
    await shot(page, "gallery")
    await use.click()

    template_name = label.removeprefix("Use template ")
    await expect(page.get_by_label("Name", exact=False).first).to_have_value(template_name)
    assert await page.get_by_label("Kind").input_value() != ""
    await expect(page.get_by_role("button", name="Test before save")).to_be_visible()
    await expect(page.get_by_label("Secret:", exact=False).first).to_have_attribute(
        "type", "password"
    )
    await shot(page, "prefilled-form")


async def test_every_control_on_every_page_has_an_accessible_name(
    page: Page, console_stack: ConsoleStack
) -> None:
    await log_in(page, console_stack.token)
    orders = console_stack.connections["orders-db"]
    for route in ("#/", f"#/connections/{orders}", "#/templates", "#/new", "#/stats"):
        await page.goto(f"/{route}")
        await expect(page.locator("main h1")).to_be_visible()
        unnamed = await page.evaluate(_UNNAMED_CONTROLS)
        assert unnamed == [], route


_UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'main button, main input, main select, main textarea, main a[href], nav a, nav button'
  )].filter((el) => {
    const labelled = (el.labels && [...el.labels].some((l) => l.textContent.trim()))
      || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    return !labelled && !el.textContent.trim();
  }).map((el) => el.outerHTML.slice(0, 80))"""


async def test_secrets_sealed_in_the_browser_open_in_python_for_that_id_only(
    page: Page, console_stack: ConsoleStack
) -> None:
    """The browser's HPKE (vendored @hpke/core) against the contract's Python opener."""
    private_key = X25519PrivateKey.generate()
    key = public_key_info("k-browser", private_key.public_key()).model_dump()
    connection_id = str(uuid.uuid4())
    await page.goto("/")

    sealed: dict[str, Any] = await page.evaluate(
        """async ([key, id, secret]) => {
            const { sealSecrets } = await import('/console/seal.js');
            return sealSecrets({ password: secret }, key, id);
        }""",
        [key, connection_id, SECRET],
    )

    assert sealed["key_id"] == "k-browser"
    assert SECRET not in json.dumps(sealed)
    assert len(base64.b64decode(sealed["sealed"])) == 32 + len('{"password":""}') + len(SECRET) + 16
    assert open_secrets(sealed["sealed"], private_key, connection_id) == {"password": SECRET}
    try:
        open_secrets(sealed["sealed"], private_key, str(uuid.uuid4()))
    except UnsealError:
        pass
    else:
        raise AssertionError("a blob sealed for one connection opened for another")


async def test_create_through_the_form_test_it_edit_conflict_time_travel_and_delete(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    """Deliverable 5's write path: the secret leaves the page sealed only."""
    bodies: list[tuple[str, str, bytes]] = []
    page.on("request", lambda r: bodies.append((r.method, r.url, r.post_data_buffer or b"")))
    await log_in(page, console_stack.token)
    await page.get_by_role("link", name="New connection").click()
    await page.get_by_label("Name", exact=True).fill("form-made-db")
    await page.get_by_label("Kind").select_option("postgres")
    await page.get_by_label("Auth method").select_option("basic")
    config = page.get_by_role("group", name="Configuration (postgres)")
    await config.get_by_label("Host (required)").fill("127.0.0.1")
    await expect(config.get_by_label("Port")).to_have_value("5432")  # the schema's default
    await config.get_by_label("Database (required)").fill("test")
    await config.get_by_label("Ssl").select_option("disable")
    await page.get_by_label("Username (required)").fill("root")
    await page.get_by_label("Secret: password").fill(SECRET)
    health = page.get_by_role("group", name="Health check")
    await expect(health.get_by_label("Enabled")).to_be_checked()  # on by default
    await expect(health).to_contain_text("default: true")
    await expect(health.get_by_label("Interval S")).to_have_value("60")
    await expect(health).to_contain_text("default: 60")
    await shot(page, "filled")

    await config.get_by_label("Port").fill("70000")
    await page.get_by_role("button", name="Create connection").click()
    port_error = page.locator('[data-error-for="config.port"]')
    await expect(port_error).not_to_be_empty(timeout=DEADLINE_MS)  # the server's, beside it
    await shot(page, "field-error")
    await config.get_by_label("Port").fill("5432")

    await page.get_by_role("button", name="Test before save").click()
    await expect(port_error).to_be_empty()
    draft = page.locator("#form-result [data-outcome]")
    await expect(draft).to_have_attribute("data-outcome", "ok", timeout=DEADLINE_MS)
    await expect(draft).to_contain_text("ms")
    await shot(page, "draft-tested")
    await page.get_by_role("button", name="Create connection").click()
    await expect(page.get_by_role("heading", name="form-made-db")).to_be_visible(
        timeout=DEADLINE_MS
    )
    connection_id = page.url.rsplit("/", 1)[-1]
    await shot(page, "created")

    await page.get_by_role("button", name="Test", exact=True).click()
    last_test = page.get_by_role("region", name="Last test")
    await expect(last_test.locator("[data-outcome]")).to_have_attribute(
        "data-outcome", "ok", timeout=DEADLINE_MS
    )
    await expect(last_test.get_by_role("table", name="Latency phases")).to_be_visible()
    await shot(page, "tested")

    await page.get_by_role("link", name="Edit").click()
    await expect(page.get_by_role("heading", name="Edit form-made-db")).to_be_visible()
    await console_stack.cli("update", connection_id, "--description", "changed elsewhere")
    await page.get_by_label("Description").fill("my stale edit")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#form-error")).to_contain_text("Conflict", timeout=DEADLINE_MS)
    await shot(page, "conflict")

    await page.goto(f"/#/connections/{connection_id}")
    await page.get_by_role("button", name="Check now").click()
    await expect(page.get_by_role("status").filter(has_text="Check now:")).to_contain_text(
        "ok", timeout=DEADLINE_MS
    )
    await page.get_by_role("link", name="Rotate secrets").click()
    await page.get_by_label("Secret: password").fill(SECRET + "-rotated")
    await page.get_by_role("button", name="Rotate secrets").click()
    trail = page.get_by_role("region", name="Audit trail")
    await expect(trail).to_contain_text("SecretsRotated", timeout=DEADLINE_MS)
    await shot(page, "rotated")

    travel = page.get_by_role("form", name="Time travel")
    version = travel.get_by_label("Version", exact=True)
    await version.fill("1")
    await travel.get_by_role("button", name="Show version").click()
    past = travel.get_by_label("Connection at that version")
    await expect(past).to_contain_text('"version": 1')
    await expect(past).to_contain_text('"host": "127.0.0.1"')
    assert "changed elsewhere" not in await past.inner_text()
    await version.fill(await version.get_attribute("max") or "")  # the current version
    await travel.get_by_role("button", name="Show version").click()
    await expect(past).to_contain_text("changed elsewhere")
    await shot(page, "time-travel")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("heading", name="Connections")).to_be_visible(timeout=DEADLINE_MS)
    await expect(page.get_by_role("link", name="form-made-db")).to_have_count(0)
    await shot(page, "deleted")

    sent = [body for method, _, body in bodies if method in ("POST", "PUT", "DELETE")]
    assert any(b'"sealed"' in body for body in sent)
    assert not [body for body in sent if SECRET.encode() in body]  # the rotated one too
    assert not [url for _, url, _ in bodies if SECRET in url or console_stack.token in url]


async def test_a_target_that_stops_answering_turns_down_on_the_open_dashboard(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    """Health checks every 10 s with failure threshold 1; waited for with deadlines."""
    server = await asyncio.start_server(_close_at_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    health = {"enabled": True, "interval_s": 10, "failure_threshold": 1, "recovery_threshold": 1}
    outcome = await console_stack.cli(
        "create",
        "--name",
        "flaky-tcp",
        "--kind",
        "tcp",
        "--config",
        "host=127.0.0.1",
        "--config",
        f"port={port}",
        "--health-json",
        json.dumps(health),
    )
    await log_in(page, console_stack.token)
    await page.evaluate("window.__sameDocument = true")
    status = page.locator(f'tr[data-connection="{outcome["connection_id"]}"] [data-status]')
    await expect(status).to_have_attribute("data-status", "healthy", timeout=HEALTH_DEADLINE_MS)
    await shot(page, "healthy")

    server.close()
    await server.wait_closed()

    await expect(status).to_have_attribute("data-status", "down", timeout=HEALTH_DEADLINE_MS)
    assert await page.evaluate("window.__sameDocument") is True
    await shot(page, "down")


HEALTH_DEADLINE_MS = 45_000
"""Three check intervals: the first check comes one interval after the create."""


async def _close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def test_the_statistics_page_shows_health_rates_latency_breakdown_and_alerts(
    page: Page, console_stack: ConsoleStack, shot: Shot
) -> None:
    await log_in(page, console_stack.token)
    await page.get_by_role("link", name="Statistics and alerts").click()
    await expect(page.get_by_role("heading", name="Statistics and alerts")).to_be_visible()
    windows = page.get_by_role("table", name="Checks by window")
    for header in ("Success rate", "p50", "p95", "p99"):
        await expect(windows.get_by_role("columnheader", name=header)).to_be_visible()
    await expect(windows.get_by_role("row")).to_have_count(5)  # header + 1h, 24h, 7d, 30d
    breakdown = page.get_by_role("table", name="Breakdown by kind and status")
    await expect(breakdown.get_by_role("cell", name="postgres").first).to_be_visible()
    await expect(page.get_by_role("table", name="Errors by outcome")).to_be_visible()
    for heading in ("Health overview", "Open alerts", "Resolved alerts"):
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await shot(page, "statistics")


async def test_the_browser_enforces_the_csp_an_injected_inline_script_never_runs(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    """What the policy buys if markup ever got in: inline code is refused (and reported)."""
    context = await browser.new_context(base_url=console_stack.api)
    tab = await context.new_page()
    reports: list[str] = []
    tab.on("console", lambda message: reports.append(message.text))
    await tab.goto("/")
    await expect(tab.get_by_role("heading", name="Log in")).to_be_visible()

    await tab.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.__inline = 1';
            document.body.append(script);
            const image = document.createElement('img');
            image.setAttribute('src', 'x');
            image.setAttribute('onerror', 'window.__handler = 1');
            document.body.append(image);
        }"""
    )

    refused = await wait_for(
        lambda: [text for text in reports if "Content Security Policy" in text][1:] and reports,
        message="two CSP refusals",
    )
    assert any("inline" in text for text in refused)
    assert await tab.evaluate("window.__inline") is None
    assert await tab.evaluate("window.__handler") is None
    await context.close()
