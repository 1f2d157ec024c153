"""What the http check sends and how it judges the answer: status, body, phases, identity."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

import pytest
from aiohttp import web
from http_peers import api_app
from http_pki import Pki
from http_targets import Serve, http_target
from yarl import URL

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.http import HttpCheck, json_path_exists, request_url
from connmgr.workers.egress import Egress, EgressPolicy, IPAddress


@pytest.fixture
async def api(serve: Serve) -> URL:
    return await serve(api_app())


async def test_the_expected_status_is_ok_and_the_phases_are_timed(api: URL, egress: Egress) -> None:
    result = await HttpCheck(egress).run(http_target(api, "/status"))

    assert result.outcome is Outcome.OK
    assert {"resolve", "connect", "query"} <= set(result.phases)
    assert "tls" not in result.phases
    assert all(value >= 0 for value in result.phases.values())
    assert result.latency_ms >= sum(result.phases.values())


async def test_an_https_answer_reports_tls_timing_and_the_certificate(
    serve: Serve, pki: Pki, egress: Egress
) -> None:
    base = await serve(api_app(), pki.server_context())

    result = await HttpCheck(egress).run(http_target(base, "/status", ca_pem=pki.ca.cert_pem))

    assert result.outcome is Outcome.OK
    assert {"resolve", "connect", "tls", "query"} <= set(result.phases)
    assert result.server is not None
    # The name verified (the URL's host), and a digest of the issuer: no certificate text.
    ca_name = hashlib.sha256(pki.ca.certificate.subject.public_bytes()).hexdigest()
    assert result.server.tls_subject == "127.0.0.1"
    assert result.server.tls_issuer == f"sha256:{ca_name}"
    assert result.server.tls_not_after is not None


async def test_a_server_header_naming_an_unknown_product_is_not_recorded(
    api: URL, egress: Egress
) -> None:
    result = await HttpCheck(egress).run(http_target(api, "/status"))  # "TestServer/1.2 xxx…"

    assert result.outcome is Outcome.OK
    assert result.server is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (401, Outcome.AUTH_FAILED),
        (403, Outcome.PERMISSION_DENIED),
        (404, Outcome.PROTOCOL_ERROR),
        (500, Outcome.PROTOCOL_ERROR),
        (204, Outcome.PROTOCOL_ERROR),
    ],
)
async def test_an_unexpected_status_maps_to_its_outcome_naming_only_the_code(
    api: URL, egress: Egress, status: int, outcome: Outcome
) -> None:
    result = await HttpCheck(egress).run(http_target(api, f"/code/{status}"))

    assert result.outcome is outcome
    assert str(status) in result.detail
    assert "body" not in result.detail
    assert "details" not in result.detail


async def test_an_expected_non_200_status_is_ok(api: URL, egress: Egress) -> None:
    target = http_target(api, "/code/418", test={"expected_status": 418})

    assert (await HttpCheck(egress).run(target)).outcome is Outcome.OK


async def test_a_redirect_is_reported_and_not_followed(egress: Egress, serve: Serve) -> None:
    hits: list[str] = []
    base = await serve(api_app(hits))

    result = await HttpCheck(egress).run(http_target(base, "/redirect?to=/status"))

    assert result.outcome is Outcome.PROTOCOL_ERROR
    assert (
        result.detail == "the server answered with a redirect (status 302), which is not followed"
    )
    assert hits == ["/redirect"]


async def test_a_redirect_can_be_the_expected_answer(api: URL, egress: Egress) -> None:
    target = http_target(api, "/redirect", test={"expected_status": 302})

    assert (await HttpCheck(egress).run(target)).outcome is Outcome.OK


@pytest.mark.parametrize(
    ("test", "outcome"),
    [
        ({"json_path": "data.status"}, Outcome.OK),
        ({"json_path": "$.items.0.id"}, Outcome.OK),
        ({"json_path": "items.1.id"}, Outcome.PROTOCOL_ERROR),
        ({"json_path": "data.missing"}, Outcome.PROTOCOL_ERROR),
        ({"body_contains": "all systems go"}, Outcome.OK),
        ({"body_contains": "on fire"}, Outcome.PROTOCOL_ERROR),
        ({"json_path": "data", "body_contains": "green"}, Outcome.OK),
    ],
)
async def test_body_expectations_decide_the_outcome(
    api: URL, egress: Egress, test: dict[str, Any], outcome: Outcome
) -> None:
    result = await HttpCheck(egress).run(http_target(api, "/status", test=test))

    assert result.outcome is outcome, result.detail
    assert "green" not in result.detail
    assert "fire" not in result.detail


async def test_a_json_path_on_a_non_json_body_is_a_protocol_error(api: URL, egress: Egress) -> None:
    result = await HttpCheck(egress).run(http_target(api, "/text", test={"json_path": "a"}))

    assert (result.outcome, result.detail) == (
        Outcome.PROTOCOL_ERROR,
        "the response body is not JSON",
    )


async def test_a_body_over_the_limit_is_not_read_whole(api: URL, egress: Egress) -> None:
    result = await HttpCheck(egress).run(http_target(api, "/big", test={"body_contains": "}"}))

    assert (result.outcome, result.detail) == (
        Outcome.PROTOCOL_ERROR,
        "the response body is larger than the 1 MiB limit",
    )


async def test_configured_headers_and_the_method_are_sent(serve: Serve, egress: Egress) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.method, request.headers.get("X-Team"), request.query.get("v")))
        return web.Response(status=201)

    app = web.Application()
    app.router.add_route("*", "/api/items", record)
    base = await serve(app)
    target = http_target(
        base / "api" / "",
        "/items?v=2",
        headers={"X-Team": "ops"},
        test={"method": "POST", "expected_status": 201},
    )

    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.OK
    assert seen == [("POST", "ops", "2")]


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("https://api.test", "/", "https://api.test/"),
        ("https://api.test/v1/", "/status", "https://api.test/v1/status"),
        ("https://api.test/v1?key=a", "/s?x=1", "https://api.test/v1/s?key=a&x=1"),
        ("http://api.test:8080/a%20b", "/c", "http://api.test:8080/a%20b/c"),
    ],
)
def test_the_request_url_joins_the_base_and_the_path(base: str, path: str, expected: str) -> None:
    assert str(request_url(base, path)) == expected


@pytest.mark.parametrize(
    ("path", "exists"),
    [("a.b", True), ("a.list.1", True), ("a.list.2", False), ("a.list.x", False),
     ("a.b.c", False), ("a.null", True), ("a.list.\u0661", False)],
)  # fmt: skip
def test_a_json_path_walks_keys_and_indexes(path: str, exists: bool) -> None:
    document = {"a": {"b": 1, "list": [0, 1], "null": None}}

    assert json_path_exists(document, path) is exists


async def test_a_hostname_is_resolved_through_the_policy_and_kept_for_tls(
    serve: Serve, pki: Pki
) -> None:
    base = await serve(api_app(), pki.server_context())
    answers = {"api.test": "127.0.0.1", "wrong.test": "127.0.0.1"}

    async def fake_dns(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(answers[host])]

    check = HttpCheck(Egress(EgressPolicy(allow_loopback=True), resolver=fake_dns))
    named = http_target(f"https://api.test:{base.port}", "/status", ca_pem=pki.ca.cert_pem)
    misnamed = http_target(f"https://wrong.test:{base.port}", "/status", ca_pem=pki.ca.cert_pem)

    assert (await check.run(named)).outcome is Outcome.OK
    assert (await check.run(misnamed)).outcome is Outcome.TLS_ERROR


async def test_an_absolute_hostname_with_its_trailing_dot_verifies_as_the_name(
    serve: Serve, pki: Pki
) -> None:
    """``api.test.`` names the same host as ``api.test``; certificates and SNI omit the dot."""
    base = await serve(api_app(), pki.server_context())

    async def fake_dns(host: str, port: int) -> list[IPAddress]:
        assert host == "api.test."
        return [ipaddress.ip_address("127.0.0.1")]

    check = HttpCheck(Egress(EgressPolicy(allow_loopback=True), resolver=fake_dns))
    target = http_target(f"https://api.test.:{base.port}", "/status", ca_pem=pki.ca.cert_pem)

    result = await check.run(target)

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.tls_subject == "api.test"
