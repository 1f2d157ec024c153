"""OAuth 2 token handling: the token endpoint's grants, the per-connection cache, failures.

Whatever the grant or the failure, neither the client secret, nor a refresh
token, nor an access token the provider issued is in a result or on any log or
output channel (``http_leaks.assert_nothing_leaked``).
"""

from __future__ import annotations

import dataclasses
import time

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

from connmgr.schemas.auth import OAuth2Auth
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.http_oauth2 import TokenCache, _json_object, _rejection, _token_of
from connmgr.workers.egress import Egress
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
