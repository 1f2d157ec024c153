"""Secret reflection: a target that echoes every credential back must not lead one out.

For each of the ten kinds, a local peer (``reflect_wire``, ``reflect_http``,
``reflect_mongo``) reaches the auth step and puts the credentials it was given
and received into every place its protocol offers: headers, status text, body,
banners and greetings, error texts, redirects, and a certificate whose subject
and issuer hold them (``reflect_pki``). The connection is created and tested end
to end (sealed create and a test command over NATS, the real encryptor, tester
and relay pools, PostgreSQL, the read API). Then the one scanner
(``support.secret_scan``) searches the reply, the NATS traffic, the log output
and records (debug level), every table and the API's answers: nothing may hold
a credential, nor the OAuth2 token or JWT issued at run time.

Positive controls, in each test: the peer really reached the auth step, and the
scanner finds the credential in what the peer sent, so a clean scan means
connmgr dropped it, not that nothing was echoed.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
import structlog
from reflect_http import TOKEN_PATH, HttpPeer, Mode
from reflect_mongo import MongoPeer
from reflect_pki import ReflectingPki
from reflect_wire import MysqlPeer, WirePeer, imap, postgres, redis, smtp, tcp_banner
from reflection_stack import Stack, reflection_stack

from support.secret_scan import SecretScanner


class Peer(Protocol):
    port: int

    @property
    def reached_auth(self) -> bool: ...

    def running(self) -> AbstractAsyncContextManager[Any]: ...

    def sent_text(self) -> str | bytes: ...


def secret(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(18)}"


USER = "app-reflect"


@dataclass(frozen=True)
class Case:
    """One kind and auth method: its payload, its secrets and the peer that reflects them."""

    payload: Callable[[int, ReflectingPki], dict[str, Any]]
    secrets: Callable[[ReflectingPki], dict[str, str]]
    peer: Callable[[str, ReflectingPki], Peer]
    outcomes: frozenset[str]
    username: str | None = USER
    pems: frozenset[str] = field(default_factory=frozenset)
    runtime_tokens: frozenset[str] = field(default_factory=frozenset)


def basic(**extra: Any) -> dict[str, Any]:
    return {"method": "basic", "username": USER, **extra}


def database(kind: str, port: int, pki: ReflectingPki, **config: Any) -> dict[str, Any]:
    return {
        "name": f"reflect-{kind}",
        "kind": kind,
        "config": {"host": "127.0.0.1", "port": port, **config},
        "auth": basic(),
    }


def fresh(**prefixes: str) -> Callable[[ReflectingPki], dict[str, str]]:
    """Secret fields with new random values on every call: no two tests share one."""
    return lambda _: {name: secret(prefix) for name, prefix in prefixes.items()}


def password(prefix: str) -> Callable[[ReflectingPki], dict[str, str]]:
    return fresh(password=prefix)


def wire(handler: Any, *, implicit: bool = False, accept: bool = False) -> Callable[..., Peer]:
    def build(echo: str, pki: ReflectingPki) -> Peer:
        return WirePeer(echo, handler, pki.server_context(), implicit_tls=implicit, accept=accept)

    return build


FAILED = frozenset({"auth_failed"})
OK = frozenset({"ok"})


def refused_and_accepted(kind: str, handler: Any, **config: Any) -> dict[str, Case]:
    """A TLS line-protocol kind whose peer refuses the login, and one that accepts it."""

    def payload(port: int, pki: ReflectingPki) -> dict[str, Any]:
        return database(kind, port, pki, ca_pem=pki.ca_pem, **config)

    return {
        f"{kind} {verdict}": Case(
            payload, password(f"{kind}-pw"), wire(handler, implicit=True, accept=accept), outcomes
        )
        for verdict, accept, outcomes in (("refused", False, FAILED), ("accepted", True, OK))
    }


WIRE_CASES = {
    **refused_and_accepted("redis", redis, tls=True),
    **refused_and_accepted("smtp", smtp, security="implicit"),
    **refused_and_accepted("imap", imap, security="implicit"),
    **{
        f"postgres {verdict}": Case(
            lambda port, pki: database(
                "postgres", port, pki, database="orders", ssl="verify-full", ca_pem=pki.ca_pem
            ),
            password("pg-pw"),
            wire(postgres, accept=accept),
            outcomes,
        )
        for verdict, accept, outcomes in (("refused", False, FAILED), ("accepted", True, OK))
    },
    **{
        f"mysql {verdict}": Case(
            lambda port, pki: database("mysql", port, pki, ssl="verify-full", ca_pem=pki.ca_pem),
            password("my-pw"),
            lambda echo, pki, accept=accept: MysqlPeer(echo, pki.server_context(), accept),
            outcomes,
        )
        for verdict, accept, outcomes in (("refused", False, FAILED), ("accepted", True, OK))
    },
    "mongodb": Case(
        lambda port, pki: database("mongodb", port, pki, tls=False),
        password("mongo-pw"),
        lambda echo, _: MongoPeer(echo),
        FAILED,
    ),
    "tcp mtls": Case(
        lambda port, pki: {
            "name": "reflect-tcp",
            "kind": "tcp",
            "config": {
                "host": "127.0.0.1",
                "port": port,
                "tls": True,
                "ca_pem": pki.ca_pem,
                "expect_banner": "220",
            },
            "auth": {"method": "mtls"},
        },
        lambda pki: {"client_cert_pem": pki.client.cert_pem, "client_key_pem": pki.client.key_pem},
        wire(tcp_banner, implicit=True),
        OK,
        username=None,
        pems=frozenset({"client_cert_pem", "client_key_pem"}),
    ),
}


def http_payload(kind: str, auth: dict[str, Any]) -> Callable[[int, ReflectingPki], dict[str, Any]]:
    def build(port: int, pki: ReflectingPki) -> dict[str, Any]:
        base = f"https://127.0.0.1:{port}"
        resolved = {
            key: (value.format(base=base) if isinstance(value, str) else value)
            for key, value in auth.items()
        }
        if kind == "webhook":
            config: dict[str, Any] = {"url": f"{base}/hook", "ca_pem": pki.ca_pem}
        else:
            config = {"base_url": base, "ca_pem": pki.ca_pem, "test": {"path": "/probe"}}
        return {"name": f"reflect-{kind}", "kind": kind, "config": config, "auth": resolved}

    return build


HTTP_AUTHS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "basic": (basic(), {"password": "basic-pw"}),
    "bearer": ({"method": "bearer"}, {"token": "bearer"}),
    "api_key header": (
        {"method": "api_key", "placement": "header", "name": "X-Api-Key"},
        {"api_key": "ak-header"},
    ),
    "api_key query": (
        {"method": "api_key", "placement": "query", "name": "api_key"},
        {"api_key": "ak-query"},
    ),
    "oauth2": (
        {"method": "oauth2", "token_url": "{base}" + TOKEN_PATH, "client_id": USER},
        {"client_secret": "oauth2-cs"},
    ),
    "jwt": (
        {"method": "jwt", "algorithm": "HS256", "issuer": "connmgr", "audience": "reflector"},
        {"signing_key": "jwt-hs256-key"},
    ),
    "custom_headers": (
        {"method": "custom_headers", "header_names": ["X-Reflect-One", "X-Reflect-Two"]},
        {"X-Reflect-One": "custom-one", "X-Reflect-Two": "custom-two"},
    ),
}
"""Each method's auth, and its secret fields with the prefix of their random values."""
HTTP_OUTCOMES = {Mode.ACCEPT: OK, Mode.REFUSE: FAILED, Mode.REDIRECT: frozenset({"protocol_error"})}


RUNTIME_TOKENS = {
    "oauth2": frozenset({"issued OAuth2 access token"}),
    "jwt": frozenset({"JWT signed by connmgr"}),
}


def http_case(kind: str, auth: dict[str, Any], prefixes: dict[str, str], mode: Mode) -> Case:
    return Case(
        http_payload(kind, auth),
        fresh(**prefixes),
        lambda echo, pki: HttpPeer(echo, mode, pki.server_context()),
        HTTP_OUTCOMES.get(mode, FAILED),
        runtime_tokens=RUNTIME_TOKENS.get(auth["method"], frozenset()),
    )


HTTP_CASES = {
    f"http {name} {mode}": http_case("http", auth, prefixes, mode)
    for name, (auth, prefixes) in HTTP_AUTHS.items()
    for mode in (Mode.ACCEPT, Mode.REFUSE, Mode.REDIRECT)
}
HTTP_CASES["http oauth2 token refused"] = Case(
    http_payload("http", HTTP_AUTHS["oauth2"][0]),
    fresh(**HTTP_AUTHS["oauth2"][1]),
    lambda echo, pki: HttpPeer(echo, Mode.REFUSE_TOKEN, pki.server_context()),
    FAILED,
)
WEBHOOK_SECRETS = {"token": "hook-bearer", "signing_secret": "hook-signing"}
OTHER_CASES = {
    **{
        f"webhook bearer {mode}": http_case("webhook", {"method": "bearer"}, WEBHOOK_SECRETS, mode)
        for mode in (Mode.ACCEPT, Mode.REFUSE)
    },
    "s3": Case(
        lambda port, pki: {
            "name": "reflect-s3",
            "kind": "s3",
            "config": {
                "bucket": "reflect-bucket",
                "endpoint_url": f"https://127.0.0.1:{port}",
                "addressing_style": "path",
                "ca_pem": pki.ca_pem,
            },
            "auth": {"method": "basic", "username": "AKIAREFLECTEXAMPLE01"},
        },
        password("s3-secret-key"),
        lambda echo, pki: HttpPeer(echo, Mode.S3, pki.server_context()),
        frozenset({"auth_failed"}),
        username="AKIAREFLECTEXAMPLE01",
    ),
}
CASES = {**WIRE_CASES, **HTTP_CASES, **OTHER_CASES}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with reflection_stack(tmp_path_factory.mktemp("reflection")) as running:
        yield running


REFERENCE_KEY_PEM = ReflectingPki.make([]).client.key_pem


def scanner_for(case: Case, values: dict[str, str], pki: ReflectingPki) -> SecretScanner:
    scanner = SecretScanner()
    # Stored in config or public by design, and a key of the same kind (its shared header).
    public = (pki.ca_pem, pki.client.cert_pem, REFERENCE_KEY_PEM)
    for name, value in values.items():
        if name in case.pems:
            scanner.add_pem(name, value, public=[text for text in public if text != value])
        else:
            scanner.add(name, value, username=case.username)
    return scanner


def add_runtime_tokens(scanner: SecretScanner, peer: Peer) -> list[str]:
    """The access tokens the peer issued and the JWTs connmgr signed for it; their labels."""
    if not isinstance(peer, HttpPeer):
        return []
    labels = []
    for token in peer.issued:
        scanner.add("issued OAuth2 access token", token)
        labels.append("issued OAuth2 access token")
    for bearer in set(peer.bearers) - set(peer.issued):
        if bearer.count(".") == 2:
            scanner.add_jwt("JWT signed by connmgr", bearer)
            labels.append("JWT signed by connmgr")
    return labels


@pytest.mark.parametrize("name", list(CASES))
async def test_no_reflected_credential_leaves_through_any_channel(
    stack: Stack, name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    pki = ReflectingPki.make([])  # a first PKI makes the client certificate (tcp mtls)
    values = case.secrets(pki)
    pki = ReflectingPki.make(values.values()) if not case.pems else pki
    scanner = scanner_for(case, values, pki)
    echo = " ".join(" ".join(values.values()).split())
    peer = case.peer(echo, pki)

    async with peer.running():
        connection_id = await stack.create(case.payload(peer.port, pki), values)
        mark = stack.mark()
        reply = await stack.test(connection_id)
    runtime = add_runtime_tokens(scanner, peer)

    assert peer.reached_auth, f"{name}: the peer never saw the auth step"
    assert scanner.scan("what the peer sent", peer.sent_text()), "the peer echoed nothing"
    assert set(runtime) >= case.runtime_tokens, f"{name}: no token was issued or signed"
    assert reply["outcome"] == "accepted", reply
    assert reply["result"]["outcome"] in case.outcomes, reply["result"]
    haystacks = await stack.haystacks(mark, connection_id, reply)
    scanner.assert_clean({**haystacks, **captured(capfd)})


def captured(capfd: pytest.CaptureFixture[str]) -> dict[str, str | bytes]:
    out, err = capfd.readouterr()
    return {"captured stdout": out, "captured stderr": err}


async def test_every_tapped_channel_shows_a_planted_secret(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    """The taps bite: a canary put into each channel is found there by the same scan."""
    canary = secret("canary")
    scanner = SecretScanner()
    scanner.add("canary", canary)
    mark = stack.mark()
    payload = {"name": "canary", "kind": "tcp", "description": canary,
               "config": {"host": "127.0.0.1", "port": 9}}  # fmt: skip
    connection_id = await stack.create(payload, {})
    structlog.get_logger("connmgr.canary").warning("canary_event", note=canary)
    logging.getLogger("connmgr.canary").warning("a stdlib line with %s", canary)
    print(canary)
    print(canary, file=sys.stderr)

    haystacks = await stack.haystacks(mark, connection_id, {"canary": canary})
    found = {finding.where for finding in scanner.scan_all({**haystacks, **captured(capfd)})}

    assert found >= {
        "reply (outcome and result)", "nats traffic", "log output", "log records",
        "table connections", "table events", f"api /api/connections/{connection_id}",
        f"api /api/connections/{connection_id}/logs", "api /api/connections", "api /api/events",
        "captured stdout", "captured stderr",
    }  # fmt: skip
