"""The console's static assets: served at ``/`` and ``/console/...`` without a token,
under a Content-Security-Policy without ``unsafe-inline``, compressed on request, and
nothing but the packaged files (docs/console.md). The browser tests are tests/browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from api.clients import ApiClient, Tokens, bearer
from connmgr.api.console_assets import CONTENT_SECURITY_POLICY, console_files


class _InlineFinder(HTMLParser):
    """Collects what a CSP without ``unsafe-inline`` would block: inline scripts,
    ``<style>`` blocks, ``style=`` and ``on*=`` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if "src" not in names:
                self.inline.append("inline <script>")
            else:
                self.scripts.append(names["src"] or "")
        if tag == "style":
            self.inline.append("<style> block")
        self.inline.extend(
            f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")
        )


async def test_the_console_page_is_served_at_the_root_under_a_strict_csp(client: ApiClient) -> None:
    response = await client.get("/")

    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    finder = _InlineFinder()
    finder.feed(await response.text())
    assert finder.inline == []
    assert finder.scripts == ["/console/app.js"]


async def test_every_asset_is_served_with_its_type_and_the_policy(client: ApiClient) -> None:
    files = console_files()
    assert {"index.html", "app.js", "seal.js", "vendor/hpke-core/mod.js"} <= set(files)

    for path, expected_type in (("app.js", "text/javascript"), ("console.css", "text/css")):
        response = await client.get(f"/console/{path}")
        assert response.status == 200
        assert response.content_type == expected_type
        assert await response.read() == files[path]
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_assets_are_gzip_compressed_when_the_browser_accepts_it(client: ApiClient) -> None:
    compressed = await client.get(
        "/console/dashboard.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    plain = await client.get("/console/dashboard.js", headers={"Accept-Encoding": "identity"})

    assert compressed.headers["Content-Encoding"] == "gzip"
    assert len(await compressed.read()) < len(console_files()["dashboard.js"]) / 2
    assert "Content-Encoding" not in plain.headers


async def test_only_packaged_assets_are_served_never_other_files(client: ApiClient) -> None:
    assert (await client.get("/console/app.js")).status == 200
    for path in (
        "/console/missing.js",
        "/console/../app.py",
        "/console/..%2fapp.py",
        "/console/%2e%2e/console_assets.py",
        "/console/vendor/hpke-core/LICENSE",
        "/console/console_assets.py",
    ):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.content_type == "application/problem+json", path


async def test_the_console_needs_no_token_but_gives_no_data_without_one(
    client: ApiClient, tokens: Tokens
) -> None:
    page = await client.get("/")
    data = await client.get("/api/connections")
    allowed = await client.get("/api/connections", headers=bearer(tokens.acme))

    assert page.status == 200
    assert data.status == 401
    assert allowed.status == 200
    assert tokens.acme not in await page.text()


def test_no_script_writes_html_strings_into_the_page() -> None:
    """Names and tags reach the DOM as text only (dom.js): an HTML sink in our own
    scripts would let a connection named ``<img src=x onerror=...>`` run code."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
    )
    ours = {p: b for p, b in console_files().items() if p.endswith(".js") and "vendor/" not in p}

    assert "dom.js" in ours
    offenders = [path for path, body in ours.items() if sinks.search(body.decode())]
    assert offenders == []


async def test_the_openapi_document_leaves_the_console_out(client: ApiClient) -> None:
    document = await (await client.get("/api/openapi.json")).json()

    assert "/api/connections" in document["paths"]
    assert "/" not in document["paths"]
    assert not [path for path in document["paths"] if path.startswith("/console")]
