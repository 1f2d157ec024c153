"""OAuth 2 token handling: the token endpoint's grants, the per-connection cache, failures.

Whatever the grant or the failure, neither the client secret, nor a refresh
token, nor an access token the provider issued is in a result or on any log or
output channel (``http_leaks.assert_nothing_leaked``).
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_plus, urlencode

import pytest
from aiohttp import web
from http_leaks import assert_nothing_leaked
from http_pki import Pki
from http_providers import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    SCOPE,
    TOKEN_LIFETIME_S,
    Provider,
)
from http_targets import Serve, http_target
from yarl import URL

from connmgr.schemas.connection_auth import OAuth2Auth
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.http_oauth2 import TokenCache, _json_object, _rejection, _token_of
from connmgr.workers.egress import Egress, EgressPolicy, IPAddress
from support.leaks import LeakChannels

NON_BEARER = "the token endpoint issued a non-bearer token"


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def oauth2_target(
    base: URL, pki: Pki, *, scopes: list[str] | None = None, **secrets: str
) -> CheckTarget:
    auth = OAuth2Auth(
        token_url=str(base / "oauth2" / "token"),
        client_id=CLIENT_ID,
        scopes=SCOPE.split() if scopes is None else scopes,
        audience=AUDIENCE,
    )
    secrets = {"client_secret": CLIENT_SECRET, **secrets}
    return http_target(base, "/oauth2/resource", auth=auth, secrets=secrets, ca_pem=pki.ca.cert_pem)


async def test_a_token_is_reused_until_shortly_before_it_expires(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    clock = Clock()
    check = HttpCheck(egress, clock=clock)
    target = oauth2_target(provider_url, pki)

    first = await check.run(target)
    second = await check.run(target)
    clock.now += TOKEN_LIFETIME_S - 10
    third = await check.run(target)

    assert [first.outcome, second.outcome, third.outcome] == [Outcome.OK] * 3
    assert provider.grants == ["client_credentials", "client_credentials"]
    assert "auth" in first.phases
    assert_nothing_leaked(leak_channels, provider, [first, second, third])


async def test_tokens_are_cached_per_connection(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress
) -> None:
    check = HttpCheck(egress)
    target = oauth2_target(provider_url, pki)
    other = dataclasses.replace(target, connection_id="another-connection")

    assert (await check.run(target)).outcome is Outcome.OK
    assert (await check.run(other)).outcome is Outcome.OK
    assert provider.grants == ["client_credentials", "client_credentials"]


async def test_a_cache_never_serves_a_token_fetched_with_other_secrets(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    check = HttpCheck(egress)
    rotated = "cs-rotated-away-2b7f91"

    accepted = await check.run(oauth2_target(provider_url, pki))
    refused = await check.run(oauth2_target(provider_url, pki, client_secret=rotated))

    assert (accepted.outcome, refused.outcome) == (Outcome.OK, Outcome.AUTH_FAILED)
    assert_nothing_leaked(leak_channels, provider, [accepted, refused], [rotated])


async def test_a_stored_refresh_token_is_used_first(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress
) -> None:
    target = oauth2_target(provider_url, pki, refresh_token=REFRESH_TOKEN)

    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.OK
    assert provider.grants == ["refresh_token"]


async def test_a_rejected_refresh_token_falls_back_to_client_credentials(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    revoked = "rt-revoked-8c1d5e3a"
    target = oauth2_target(provider_url, pki, refresh_token=revoked)

    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.OK
    assert provider.grants == ["refresh_token", "client_credentials"]
    assert_nothing_leaked(leak_channels, provider, [result], [revoked])


async def test_a_token_the_server_revoked_fails_once_then_is_fetched_again(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    check = HttpCheck(egress, tokens=TokenCache())
    target = oauth2_target(provider_url, pki)
    results = [await check.run(target)]
    assert results[0].outcome is Outcome.OK
    revoked = list(provider.issued)

    provider.issued.clear()

    results += [await check.run(target), await check.run(target)]
    assert [r.outcome for r in results[1:]] == [Outcome.AUTH_FAILED, Outcome.OK]
    assert len(provider.grants) == 2
    assert_nothing_leaked(leak_channels, provider, results, revoked)


async def test_a_refused_scope_is_permission_denied(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    target = oauth2_target(provider_url, pki, scopes=["admin:everything"])

    result = await HttpCheck(egress).run(target)

    assert (result.outcome, result.detail) == (
        Outcome.PERMISSION_DENIED,
        "the token endpoint refused the requested grant or scopes",
    )
    assert_nothing_leaked(leak_channels, provider, [result])


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        ({"token_type": "Bearer"}, 200, "the token endpoint's answer holds no usable access token"),
        ({"access_token": "t", "token_type": "mac"}, 200, NON_BEARER),
        ({"error": "server_error"}, 503, "the token endpoint answered with status 503"),
        ({"access_token": "t-300"}, 300, "the token endpoint answered with status 300"),
    ],
)  # fmt: skip
async def test_an_unusable_token_answer_is_a_protocol_error(
    serve: Serve, egress: Egress, answer: dict[str, str], status: int, detail: str
) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_post("/token", token)
    base = await serve(app)
    auth = OAuth2Auth(token_url=str(base / "token"), client_id=CLIENT_ID)
    target = http_target(base, "/", auth=auth, secrets={"client_secret": CLIENT_SECRET})

    result = await HttpCheck(egress).run(target)

    assert (result.outcome, result.detail) == (Outcome.PROTOCOL_ERROR, detail)


def test_the_cache_forgets_entries_beyond_its_bound() -> None:
    cache = TokenCache(max_entries=2)
    for number in range(3):
        cache.put((f"c{number}", "k"), f"t{number}", 600, now=0)

    assert [cache.get((f"c{n}", "k"), now=1) for n in range(3)] == [None, "t1", "t2"]


@pytest.mark.parametrize(
    ("expires_in", "usable_for"),
    [(600.0, 570.0), (40.0, 30.0), (200.0, 170.0), (121.0, 91.0)],
)
def test_a_cached_token_is_served_until_its_margin_before_expiry(
    expires_in: float, usable_for: float
) -> None:
    """Module doc: kept until a margin (a quarter of its life, at most 30 s) before expiry."""
    cache = TokenCache()
    cache.put(("c", "k"), "at-1f9e", expires_in, now=100.0)

    assert cache.get(("c", "k"), now=100.0 + usable_for - 0.5) == "at-1f9e"
    assert cache.get(("c", "k"), now=100.0 + usable_for) is None


def test_a_token_put_again_is_the_newest_and_the_oldest_other_one_is_forgotten() -> None:
    cache = TokenCache(max_entries=2)
    cache.put(("a", "k"), "ta", 600, now=0)
    cache.put(("b", "k"), "tb", 600, now=0)
    cache.put(("a", "k"), "ta2", 600, now=0)
    cache.put(("c", "k"), "tc", 600, now=0)

    assert [cache.get((name, "k"), now=1) for name in "abc"] == ["ta2", None, "tc"]


def test_dropping_an_unknown_key_is_harmless() -> None:
    cache = TokenCache()
    cache.put(("a", "k"), "ta", 600, now=0)

    cache.drop(("b", "k"))
    cache.drop(("a", "k"))
    cache.drop(("a", "k"))

    assert cache.get(("a", "k"), now=1) is None


@pytest.mark.parametrize(
    ("answer", "lifetime"),
    [
        ({"access_token": "t", "expires_in": 1}, 1.0),
        ({"access_token": "t", "expires_in": 0}, None),
        ({"access_token": "t", "expires_in": True}, None),
        ({"access_token": "t", "expires_in": "600"}, None),
        ({"access_token": "t" * 8192, "token_type": "bearer"}, None),
    ],
)
def test_only_a_positive_number_is_a_token_lifetime(
    answer: dict[str, object], lifetime: float | None
) -> None:
    assert _token_of(answer) == (answer["access_token"], lifetime)


@pytest.mark.parametrize("token", ["", "t" * 8193, "t\x00", None, 42])
def test_an_empty_oversized_unprintable_or_absent_token_is_unusable(token: object) -> None:
    with pytest.raises(CheckFailed) as failure:
        _token_of({"access_token": token})

    assert failure.value.detail == "the token endpoint's answer holds no usable access token"


REFUSED = "the token endpoint refused the requested grant or scopes"
REJECTED = "the token endpoint rejected the credentials"


@pytest.mark.parametrize(
    ("status", "error", "outcome", "detail"),
    [
        (403, None, Outcome.PERMISSION_DENIED, REFUSED),
        (400, "invalid_scope", Outcome.PERMISSION_DENIED, REFUSED),
        (400, "invalid_grant", Outcome.AUTH_FAILED, REJECTED),
        (401, None, Outcome.AUTH_FAILED, REJECTED),
        (404, None, Outcome.PROTOCOL_ERROR, "the token endpoint answered with status 404"),
    ],
)  # fmt: skip
def test_each_refusal_of_the_token_endpoint_has_its_outcome(
    status: int, error: object, outcome: Outcome, detail: str
) -> None:
    rejection = _rejection(status, error)

    assert (rejection.outcome, rejection.detail) == (outcome, detail)


@pytest.mark.parametrize("body", [None, b"[1, 2]", b"not json", b'"text"'])
def test_an_answer_that_is_not_a_json_object_reads_as_empty(body: bytes | None) -> None:
    assert _json_object(body) == {}


def test_the_cache_keeps_at_most_4096_tokens_by_default() -> None:
    cache = TokenCache()
    for number in range(4097):
        cache.put((f"c{number}", "k"), f"t{number}", 600, now=0)

    assert cache.get(("c0", "k"), now=1) is None
    assert cache.get(("c1", "k"), now=1) == "t1"


async def test_a_fresh_token_the_target_refuses_is_not_kept_for_the_next_check(
    provider: Provider, serve: Serve, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    """A token revoked between its grant and its first use: the next check asks for another."""
    revoked: list[str] = []

    @web.middleware
    async def revoke_before_first_use(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/oauth2/resource" and not revoked:
            revoked.extend(provider.issued)
            provider.issued.clear()
        return await handler(request)

    app = provider.app()
    app.middlewares.append(revoke_before_first_use)
    target = oauth2_target(await serve(app, pki.server_context()), pki)
    check = HttpCheck(egress)

    results = [await check.run(target), await check.run(target)]

    assert [result.outcome for result in results] == [Outcome.AUTH_FAILED, Outcome.OK]
    assert provider.grants == ["client_credentials", "client_credentials"]
    assert_nothing_leaked(leak_channels, provider, results, revoked)


def negotiating_token_app(issued: list[str]) -> web.Application:
    """A token endpoint that answers JSON only when asked to (``Accept``), else a form, as
    GitHub's does; media types compared case-insensitively (RFC 9110 section 8.3.1)."""

    async def token(request: web.Request) -> web.Response:
        accepted = request.headers.get("Accept", "").split(",")
        wanted = {media.split(";")[0].strip().lower() for media in accepted}
        issued.append(f"at-negotiated-{len(issued)}")
        answer = {"access_token": issued[-1], "token_type": "bearer", "scope": ""}
        if "application/json" in wanted:
            return web.json_response(answer)
        form = urlencode(answer)
        return web.Response(text=form, content_type="application/x-www-form-urlencoded")

    async def resource(request: web.Request) -> web.Response:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return web.json_response({}, status=200 if presented in issued else 401)

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/resource", resource)
    return app


async def test_the_token_request_asks_for_a_json_answer(serve: Serve, egress: Egress) -> None:
    issued: list[str] = []
    base = await serve(negotiating_token_app(issued))
    auth = OAuth2Auth(token_url=str(base / "token"), client_id=CLIENT_ID)
    target = http_target(base, "/resource", auth=auth, secrets={"client_secret": CLIENT_SECRET})

    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.OK, result
    assert issued == ["at-negotiated-0"]


async def test_a_redirect_from_the_token_endpoint_is_not_followed(
    provider: Provider, serve: Serve, pki: Pki, egress: Egress, leak_channels: LeakChannels
) -> None:
    """The client's credentials go to the configured ``token_url`` and nowhere else."""

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/oauth2/token")

    app = provider.app()
    app.router.add_post("/oauth2/moved", moved)
    base = await serve(app, pki.server_context())
    target = oauth2_target(base, pki)
    moved_auth = target.auth.model_copy(update={"token_url": str(base / "oauth2" / "moved")})
    target = dataclasses.replace(target, auth=moved_auth)

    result = await HttpCheck(egress).run(target)

    assert (result.outcome, result.detail) == (
        Outcome.PROTOCOL_ERROR,
        "the token endpoint answered with status 307",
    )
    assert provider.hits == ["/oauth2/moved"]
    assert provider.grants == []
    assert_nothing_leaked(leak_channels, provider, [result])


def any_client_token_app(seen: list[tuple[str, str | None]]) -> web.Application:
    """A token endpoint that takes any client secret and refresh token, noting each pair."""

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        encoded = request.headers.get("Authorization", "").removeprefix("Basic ")
        secret = unquote_plus(base64.b64decode(encoded).decode().partition(":")[2])
        refresh = form.get("refresh_token")
        seen.append((secret, refresh if isinstance(refresh, str) else None))
        return web.json_response({"access_token": f"at-{len(seen)}", "expires_in": 600})

    async def resource(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_get("/resource", resource)
    return app


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("cs-1", None), ("cs-1", "rt-1")),
        (("cs-1", "rt-1"), ("cs-1", "rt-2")),
        (("cs-1", "rt-1"), ("cs-2", "rt-1")),
        (("cs-1\0", "rt-1"), ("cs-1", "\0rt-1")),
    ],
    ids=[
        "refresh-token-stored",
        "refresh-token-replaced",
        "secret-rotated",
        "same-text-split-apart",
    ],
)
async def test_secrets_changed_in_any_way_get_their_own_token(
    serve: Serve,
    egress: Egress,
    before: tuple[str, str | None],
    after: tuple[str, str | None],
) -> None:
    """The cache is keyed by every secret whole: a sealed secret may hold any character."""
    seen: list[tuple[str, str | None]] = []
    base = await serve(any_client_token_app(seen))
    auth = OAuth2Auth(token_url=str(base / "token"), client_id=CLIENT_ID)
    check = HttpCheck(egress)

    for client_secret, refresh_token in (before, after):
        secrets = {"client_secret": client_secret}
        if refresh_token is not None:
            secrets["refresh_token"] = refresh_token
        result = await check.run(http_target(base, "/resource", auth=auth, secrets=secrets))
        assert result.outcome is Outcome.OK, result

    assert seen == [before, after]


def test_an_expired_token_looked_up_gives_its_place_to_a_live_one() -> None:
    cache = TokenCache(max_entries=2)
    cache.put(("long", "k"), "t-long", 600, now=0)
    cache.put(("short", "k"), "t-short", 40, now=0)  # usable until 30

    assert cache.get(("short", "k"), now=31) is None
    cache.put(("new", "k"), "t-new", 600, now=31)

    assert [cache.get((name, "k"), now=32) for name in ("long", "new")] == ["t-long", "t-new"]


async def test_a_token_endpoint_named_with_a_trailing_dot_is_verified_for_its_name(
    provider: Provider, serve: Serve, pki: Pki
) -> None:
    """``api.test.`` is the absolute form of ``api.test``, which the certificate names."""
    base = await serve(provider.app(), pki.server_context())

    async def fake_dns(host: str, port: int) -> list[IPAddress]:
        assert host == "api.test."
        return [ipaddress.ip_address("127.0.0.1")]

    check = HttpCheck(Egress(EgressPolicy(allow_loopback=True), resolver=fake_dns))
    result = await check.run(oauth2_target(base.with_host("api.test."), pki))

    assert result.outcome is Outcome.OK, result
    assert provider.grants == ["client_credentials"]
    assert result.server is not None
    assert result.server.tls_subject == "api.test"
