"""The http and webhook checks under the egress policy: refused targets receive nothing.

Every "nothing arrived" claim is proved by a listener that records accepted
connections, checked with a probe connection of our own after the check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from aiohttp import web
from egress_peers import (
    Serve,
    counting_listener,
    http_target,
    leaked,
    recording_app,
    webhook_target,
)

from connmgr.schemas.connection_auth import BasicAuth, OAuth2Auth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.webhook import WebhookCheck
from connmgr.workers.egress import DnsFailure, Egress, EgressPolicy, IPAddress, Resolver

PASSWORD = "pw-egress-5e1b"
CLIENT_SECRET = "cs-egress-0a9d"
SIGNING_SECRET = "whsec-egress-77c2"
SECRETS = [PASSWORD, CLIENT_SECRET, SIGNING_SECRET]
# Loopback is allowed in these tests, except 127.0.0.2: the stand-in for a refused target.
ALLOWED_LOOPBACK = EgressPolicy(allow_loopback=True, denied=(ipaddress.ip_network("127.0.0.2/32"),))


def fake_dns(answers: dict[str, list[list[str]]], calls: list[str] | None = None) -> Resolver:
    """A resolver giving each name's answers in turn (the last one repeats)."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if calls is not None:
            calls.append(host)
        if host not in answers:
            raise DnsFailure(host)
        turns = answers[host]
        answer = turns.pop(0) if len(turns) > 1 else turns[0]
        return [ipaddress.ip_address(address) for address in answer]

    return resolve


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "0x7f.1", "2130706433"])
async def test_a_check_against_a_refused_target_never_connects_to_it(
    host: str, logs: Callable[[], list[str]]
) -> None:
    async with counting_listener("127.0.0.1") as listener:
        target = http_target(
            f"http://{host}:{listener.port}",
            auth=BasicAuth(username="app"),
            secrets={"password": PASSWORD},
        )

        result = await HttpCheck(Egress(EgressPolicy())).run(target)

        assert (result.outcome, result.detail) == (
            Outcome.REFUSED_BY_POLICY,
            "the target is refused by the egress policy (loopback address)",
        )
        await listener.assert_nothing_accepted_before_a_probe()
    assert leaked(result, SECRETS, *logs()) == []


async def test_a_name_whose_dns_answer_includes_a_refused_address_is_refused() -> None:
    async with counting_listener("127.0.0.1") as allowed:
        resolver = fake_dns({"api.test": [["127.0.0.1", "127.0.0.2"]]})
        egress = Egress(ALLOWED_LOOPBACK, resolver=resolver)

        result = await HttpCheck(egress).run(http_target(f"http://api.test:{allowed.port}"))

        assert (result.outcome, result.detail) == (
            Outcome.REFUSED_BY_POLICY,
            "the target is refused by the egress policy (denied by policy)",
        )
        await allowed.assert_nothing_accepted_before_a_probe()


async def test_a_name_resolving_to_the_metadata_address_is_refused() -> None:
    resolver = fake_dns({"metadata.internal": [["169.254.169.254"]]})
    egress = Egress(EgressPolicy(allow_link_local=True), resolver=resolver)

    result = await HttpCheck(egress).run(http_target("http://metadata.internal/latest/"))

    assert (result.outcome, result.detail) == (
        Outcome.REFUSED_BY_POLICY,
        "the target is refused by the egress policy (cloud metadata address)",
    )


async def test_the_connection_goes_to_the_address_that_was_checked(serve: Serve) -> None:
    app, hits = recording_app("/health")
    base = await serve(app)
    async with counting_listener("127.0.0.3") as rebound:
        calls: list[str] = []
        # A rebinding DNS: the second answer would point elsewhere.
        resolver = fake_dns({"api.test": [["127.0.0.1"], ["127.0.0.3"]]}, calls)
        egress = Egress(ALLOWED_LOOPBACK, resolver=resolver)

        result = await HttpCheck(egress).run(http_target(f"http://api.test:{base.port}", "/health"))

        assert result.outcome is Outcome.OK
        assert (calls, hits) == (["api.test"], ["/health"])
        await rebound.assert_nothing_accepted_before_a_probe()


@pytest.mark.parametrize("kind", ["http", "webhook"])
async def test_a_redirect_to_a_refused_target_is_reported_and_sends_it_nothing(
    kind: str, serve: Serve, logs: Callable[[], list[str]]
) -> None:
    async with counting_listener("127.0.0.2") as refused:
        hits: list[str] = []

        async def redirect(request: web.Request) -> web.Response:
            hits.append(request.path)
            raise web.HTTPTemporaryRedirect(f"http://127.0.0.2:{refused.port}/landing")

        app = web.Application()
        app.router.add_route("*", "/go", redirect)
        base = await serve(app)
        egress = Egress(ALLOWED_LOOPBACK)
        if kind == "http":
            secrets = {"password": PASSWORD}
            target = http_target(base, "/go", auth=BasicAuth(username="app"), secrets=secrets)
            result = await HttpCheck(egress).run(target)
        else:
            target = webhook_target(base / "go", secrets={"signing_secret": SIGNING_SECRET})
            result = await WebhookCheck(egress).run(target)

        assert (result.outcome, result.detail) == (
            Outcome.PROTOCOL_ERROR,
            "the server answered with a redirect (status 307), which is not followed",
        )
        assert hits == ["/go"]
        await refused.assert_nothing_accepted_before_a_probe()
    assert leaked(result, SECRETS, *logs()) == []


async def test_a_redirect_to_the_metadata_address_is_not_followed(serve: Serve) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/iam/")

    app = web.Application()
    app.router.add_get("/go", redirect)
    base = await serve(app)

    result = await HttpCheck(Egress(ALLOWED_LOOPBACK)).run(http_target(base, "/go"))

    assert result.outcome is Outcome.PROTOCOL_ERROR
    assert "302" in result.detail


async def test_a_token_endpoint_on_a_refused_address_receives_nothing(
    serve: Serve, logs: Callable[[], list[str]]
) -> None:
    app, hits = recording_app("/resource")
    base = await serve(app)
    async with counting_listener("127.0.0.2") as token_host:
        auth = OAuth2Auth(token_url=f"http://127.0.0.2:{token_host.port}/token", client_id="c")
        target = http_target(base, "/resource", auth=auth, secrets={"client_secret": CLIENT_SECRET})

        result = await HttpCheck(Egress(ALLOWED_LOOPBACK)).run(target)

        assert result.outcome is Outcome.REFUSED_BY_POLICY
        assert hits == []
        await token_host.assert_nothing_accepted_before_a_probe()
    assert leaked(result, SECRETS, *logs()) == []


async def test_the_refusal_comes_before_any_name_is_looked_up_for_a_literal() -> None:
    calls: list[str] = []
    egress = Egress(EgressPolicy(), resolver=fake_dns({}, calls))

    result = await HttpCheck(egress).run(http_target("http://169.254.169.254/"))

    assert result.outcome is Outcome.REFUSED_BY_POLICY
    assert calls == []
