"""Every auth method of the http check, against a peer that verifies it like a provider.

Each method is accepted with the right secret (``ok``) and rejected with a wrong
one (``auth_failed``); no secret, in any form ``support.secret_scan`` knows (the
base64 of a Basic header included), is in the result or on any log or output
channel (``leak_channels``), nor are the tokens made at run time: the OAuth 2
access tokens the provider issued and the JWTs connmgr signed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from http_leaks import assert_nothing_leaked
from http_pki import Pki
from http_providers import (
    API_KEY,
    AUDIENCE,
    BASIC_PASSWORD,
    BASIC_USER,
    BEARER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    CUSTOM_HEADERS,
    HS256_SECRET,
    JWT_AUDIENCE,
    JWT_CLAIMS,
    JWT_ISSUER,
    JWT_SUBJECT,
    OAUTH1_TOKEN,
    OAUTH1_TOKEN_SECRET,
    SCOPE,
    JwtKeys,
    Provider,
)
from http_targets import http_target
from yarl import URL

from connmgr.schemas.connection_auth import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    CustomHeadersAuth,
    JwtAuth,
    OAuth1Auth,
    OAuth2Auth,
)
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def jwt_auth(algorithm: Literal["HS256", "RS256", "ES256"]) -> JwtAuth:
    return JwtAuth(
        algorithm=algorithm,
        issuer=JWT_ISSUER,
        subject=JWT_SUBJECT,
        audience=JWT_AUDIENCE,
        claims=dict(JWT_CLAIMS),
    )


def oauth2(base: URL) -> OAuth2Auth:
    token_url = str(base / "oauth2" / "token")
    return OAuth2Auth(
        token_url=token_url, client_id=CLIENT_ID, scopes=SCOPE.split(), audience=AUDIENCE
    )


def other_rsa_key() -> str:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def other_ec_key() -> str:
    return pem(ec.generate_private_key(ec.SECP256R1()))


@dataclass(frozen=True)
class Case:
    """One auth method: its route, its auth (given the base URL) and right and wrong secrets."""

    path: str
    auth: Callable[[URL], Auth]
    right: Callable[[JwtKeys], dict[str, str]]
    wrong: Callable[[JwtKeys], dict[str, str]]


OAUTH1_SECRETS = {"consumer_secret": CONSUMER_SECRET, "token_secret": OAUTH1_TOKEN_SECRET}
CASES = {
    "basic": Case(
        "/basic", lambda _: BasicAuth(username=BASIC_USER),
        lambda _: {"password": BASIC_PASSWORD}, lambda _: {"password": "wrong-basic-pw-4c1e9b7a"},
    ),
    "api_key_header": Case(
        "/api-key/header", lambda _: ApiKeyAuth(placement="header", name="X-Api-Key"),
        lambda _: {"api_key": API_KEY}, lambda _: {"api_key": "ak-wrong-5e0d2f81"},
    ),
    "api_key_query": Case(
        "/api-key/query", lambda _: ApiKeyAuth(placement="query", name="api_key"),
        lambda _: {"api_key": API_KEY}, lambda _: {"api_key": "ak-wrong-5e0d2f81"},
    ),
    "bearer": Case(
        "/bearer", lambda _: BearerAuth(),
        lambda _: {"token": BEARER_TOKEN}, lambda _: {"token": "bt-wrong-93a7c6d0"},
    ),
    "custom_headers": Case(
        "/custom", lambda _: CustomHeadersAuth(header_names=list(CUSTOM_HEADERS)),
        lambda _: dict(CUSTOM_HEADERS),
        lambda _: {**CUSTOM_HEADERS, "X-Auth-Signature": "ch-wrong-1b8e4f27"},
    ),
    "oauth2": Case(
        "/oauth2/resource", oauth2,
        lambda _: {"client_secret": CLIENT_SECRET}, lambda _: {"client_secret": "cs-wrong-6f2a90"},
    ),
    "oauth1": Case(
        "/oauth1/resource?page=2&q=a%20b+c&sym=%2B%26",
        lambda _: OAuth1Auth(consumer_key=CONSUMER_KEY, token=OAUTH1_TOKEN),
        lambda _: OAUTH1_SECRETS, lambda _: {**OAUTH1_SECRETS, "consumer_secret": "cs-wrong-0c7d"},
    ),
    "jwt_hs256": Case(
        "/jwt/HS256", lambda _: jwt_auth("HS256"),
        lambda _: {"signing_key": HS256_SECRET}, lambda _: {"signing_key": "hs-wrong-8d41b6e9"},
    ),
    "jwt_rs256": Case(
        "/jwt/RS256", lambda _: jwt_auth("RS256"),
        lambda keys: {"signing_key": pem(keys.rsa_key)},
        lambda _: {"signing_key": other_rsa_key()},
    ),
    "jwt_es256": Case(
        "/jwt/ES256", lambda _: jwt_auth("ES256"),
        lambda keys: {"signing_key": pem(keys.ec_key)},
        lambda _: {"signing_key": other_ec_key()},
    ),
}  # fmt: skip


async def run_case(
    name: str, provider_url: URL, pki: Pki, jwt_keys: JwtKeys, egress: Egress, *, right: bool
) -> tuple[CheckResult, dict[str, str]]:
    case = CASES[name]
    secrets = (case.right if right else case.wrong)(jwt_keys)
    target = http_target(
        provider_url, case.path, auth=case.auth(provider_url), secrets=secrets,
        ca_pem=pki.ca.cert_pem,
    )  # fmt: skip
    return await HttpCheck(egress).run(target), secrets


def right_target(name: str, provider_url: URL, pki: Pki, jwt_keys: JwtKeys) -> CheckTarget:
    case = CASES[name]
    return http_target(
        provider_url, case.path, auth=case.auth(provider_url), secrets=case.right(jwt_keys),
        ca_pem=pki.ca.cert_pem,
    )  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
async def test_an_auth_method_with_the_right_secret_is_accepted_by_the_provider(
    name: str,
    provider: Provider,
    provider_url: URL,
    pki: Pki,
    jwt_keys: JwtKeys,
    egress: Egress,
    leak_channels: LeakChannels,
) -> None:
    result, secrets = await run_case(name, provider_url, pki, jwt_keys, egress, right=True)

    assert (result.outcome, result.detail) == (
        Outcome.OK,
        "the server answered with the expected status 200",
    )
    assert provider.hits[-1] == CASES[name].path.split("?")[0]
    issued, presented = provider.runtime_tokens()
    if name.startswith(("oauth2", "jwt")):  # the scan below must know the run-time token
        assert issued if name == "oauth2" else presented
    assert_nothing_leaked(leak_channels, provider, [result], secrets.values())


@pytest.mark.parametrize("name", list(CASES))
async def test_an_auth_method_with_a_wrong_secret_is_auth_failed(
    name: str,
    provider: Provider,
    provider_url: URL,
    pki: Pki,
    jwt_keys: JwtKeys,
    egress: Egress,
    leak_channels: LeakChannels,
) -> None:
    result, secrets = await run_case(name, provider_url, pki, jwt_keys, egress, right=False)

    assert result.outcome is Outcome.AUTH_FAILED, result.detail
    assert_nothing_leaked(leak_channels, provider, [result], secrets.values())


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
async def test_an_expired_jwt_is_rejected_by_the_provider(
    algorithm: str, provider_url: URL, pki: Pki, jwt_keys: JwtKeys, egress: Egress
) -> None:
    target = right_target(f"jwt_{algorithm.lower()}", provider_url, pki, jwt_keys)
    an_hour_ago = time.time() - 3600

    result = await HttpCheck(egress, clock=lambda: an_hour_ago).run(target)

    assert result.outcome is Outcome.AUTH_FAILED


@pytest.mark.parametrize(
    "claim",
    [{"audience": "https://elsewhere.test"}, {"subject": "someone-else"}, {"claims": {}}],
    ids=["audience", "subject", "configured-claims"],
)
async def test_a_jwt_for_another_audience_or_subject_is_rejected_by_the_provider(
    claim: dict[str, object], provider_url: URL, pki: Pki, egress: Egress
) -> None:
    auth = jwt_auth("HS256").model_copy(update=claim)
    target = http_target(
        provider_url, "/jwt/HS256", auth=auth, secrets={"signing_key": HS256_SECRET},
        ca_pem=pki.ca.cert_pem,
    )  # fmt: skip

    assert (await HttpCheck(egress).run(target)).outcome is Outcome.AUTH_FAILED


async def test_a_jwt_key_of_the_wrong_type_is_a_config_error(
    provider: Provider, provider_url: URL, jwt_keys: JwtKeys, egress: Egress
) -> None:
    secrets = {"signing_key": pem(jwt_keys.ec_key)}
    target = http_target(provider_url, "/jwt/RS256", auth=jwt_auth("RS256"), secrets=secrets)

    result = await HttpCheck(egress).run(target)

    assert (result.outcome, result.detail) == (
        Outcome.CONFIG_ERROR,
        "the signing key cannot sign with the configured algorithm",
    )
    assert provider.hits == []


async def test_an_oauth1_request_signed_an_hour_ago_is_rejected_by_the_provider(
    provider_url: URL, pki: Pki, jwt_keys: JwtKeys, egress: Egress
) -> None:
    target = right_target("oauth1", provider_url, pki, jwt_keys)
    an_hour_ago = time.time() - 3600

    result = await HttpCheck(egress, clock=lambda: an_hour_ago).run(target)

    assert result.outcome is Outcome.AUTH_FAILED


async def test_a_consumer_only_oauth1_request_is_signed_with_an_empty_token_secret(
    provider: Provider, provider_url: URL, pki: Pki, egress: Egress
) -> None:
    """Two-legged OAuth 1 (RFC 5849 §3.4.2: no token, so its secret is empty): the
    signing key is the consumer secret and ``&`` alone."""
    target = http_target(
        provider_url, "/oauth1/two-legged", auth=OAuth1Auth(consumer_key=CONSUMER_KEY),
        secrets={"consumer_secret": CONSUMER_SECRET}, ca_pem=pki.ca.cert_pem,
    )  # fmt: skip

    result = await HttpCheck(egress).run(target)

    assert result.outcome is Outcome.OK
    assert provider.hits[-1] == "/oauth1/two-legged"


async def test_each_oauth1_request_carries_a_fresh_nonce_the_provider_accepts(
    provider: Provider, provider_url: URL, pki: Pki, jwt_keys: JwtKeys, egress: Egress
) -> None:
    target = right_target("oauth1", provider_url, pki, jwt_keys)
    check = HttpCheck(egress, clock=lambda: 1_700_000_000.0)
    provider.now = lambda: 1_700_000_000.0  # the same second: only the nonce differs

    outcomes = [(await check.run(target)).outcome for _ in range(3)]

    assert outcomes == [Outcome.OK] * 3
    assert len(provider.nonces) == 3
