"""The auth callout's decisions and JWT format, without a server.

Known answers: the JWT bytes for a fixed seed and fixed claims,
and the permission lists of each identity, are written out here, so that a
change of either is a visible decision.
"""

from __future__ import annotations

import base64
import json

import pytest

from connmgr.schemas.identities import (
    Permissions,
    event_consumer_slot,
    gateway_permissions,
    producer_permissions,
    slot_tenant,
)
from connmgr.storage.tokens import OPERATOR_TENANT, TokenGrant
from connmgr.workers.keyring import KeyringError
from connmgr.workers.nats_auth import jwt
from connmgr.workers.nats_auth.decisions import (
    REFUSED,
    ConnectRequest,
    connect_request,
    identity_for,
    response_claims,
    user_claims,
)
from connmgr.workers.nats_auth.issuer import issuer_from_seed, public_key
from support.secret_scan import SecretScanner

SEED = "SAAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4HYMHI"  # bytes 0..31, not a secret
ISSUER = issuer_from_seed(SEED)
WRITE_AND_READ = frozenset({"commands:write", "events:read", "connections:read"})


def grant(tenant: str = "acme", scopes: frozenset[str] = WRITE_AND_READ) -> TokenGrant:
    return TokenGrant(name="t", tenant=tenant, scopes=scopes)


def request(user: str = "", secret: str = "cm_x") -> ConnectRequest:
    return ConnectRequest(server_id="NSERVER", user_nkey="UCLIENT", user=user, secret=secret)


def test_a_jwt_is_header_claims_and_an_ed25519_signature_of_both() -> None:
    token = jwt.encode({"sub": "UCLIENT", "iat": 1}, ISSUER)

    assert token == (
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ"
        ".eyJzdWIiOiJVQ0xJRU5UIiwiaWF0IjoxfQ"
        ".X5ajGVfvPKbALNO_hQ-M7kq-FCJLlXgl4Gz31k5Yvifurr06mjGqsojNJk4QIlA7uTa7_iDXMP3wUIRhluG-BA"
    )
    assert public_key(ISSUER) == "AAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3QPZV"


def test_the_issuer_is_an_account_key_and_a_bad_seed_is_never_echoed() -> None:
    assert public_key(ISSUER).startswith("A")
    with pytest.raises(KeyringError) as refused:
        issuer_from_seed("SUsomething-secret")
    scanner = SecretScanner()
    scanner.add("seed", "SUsomething-secret")
    scanner.add("seed body", "something-secret")
    scanner.assert_clean({"error": f"{refused.value} {refused.value!r}"})


def server_request(options: dict[str, str]) -> bytes:
    claims = {
        "nats": {
            "type": "authorization_request",
            "server_id": {"id": "NSERVER"},
            "user_nkey": "UCLIENT",
            "connect_opts": options,
        }
    }
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJ0eXAiOiJKV1QifQ.{body}.c2ln".encode()


@pytest.mark.parametrize(
    ("options", "user", "secret"),
    [
        ({"auth_token": "cm_a"}, "", "cm_a"),
        ({"user": "gateway", "pass": "cm_b"}, "gateway", "cm_b"),
        ({"user": "gateway"}, "gateway", ""),
        ({}, "", ""),
    ],
)
def test_the_request_gives_the_token_or_the_gateway_password(
    options: dict[str, str], user: str, secret: str
) -> None:
    parsed = connect_request(jwt.request_claims(server_request(options)))
    assert parsed == ConnectRequest("NSERVER", "UCLIENT", user, secret)


@pytest.mark.parametrize("data", [b"", b"not a jwt", b"a.b.c", b"a.e30.c", "é.é.é".encode()])
def test_an_unreadable_request_is_malformed(data: bytes) -> None:
    with pytest.raises(jwt.MalformedRequest):
        connect_request(jwt.request_claims(data))


def test_a_producer_token_gets_its_tenants_commands_events_and_slots() -> None:
    identity = identity_for(request(), grant(), slots=1)

    assert identity is not None
    assert identity.permissions == Permissions(
        publish=(
            "$JS.API.INFO",
            "connmgr.cmd.acme.>",
            "$JS.API.STREAM.INFO.KV_connmgr_keys",
            "$JS.API.DIRECT.GET.KV_connmgr_keys.>",
            "$JS.API.STREAM.MSG.GET.KV_connmgr_keys",
            "$JS.API.CONSUMER.CREATE.CONNMGR_EVT.acme-evt-1.connmgr.evt.acme.>",
            "$JS.API.CONSUMER.INFO.CONNMGR_EVT.acme-evt-1",
            "$JS.API.CONSUMER.DELETE.CONNMGR_EVT.acme-evt-1",
            "$JS.API.CONSUMER.MSG.NEXT.CONNMGR_EVT.acme-evt-1",
            "$JS.ACK.CONNMGR_EVT.acme-evt-1.>",
        ),
        subscribe=("_INBOX.tenant.acme.>", "connmgr.evt.acme.>"),
    )


def test_the_gateway_gets_commands_the_seal_key_and_its_own_inbox_only() -> None:
    identity = identity_for(request(user="gateway"), grant(), slots=8)

    assert identity is not None
    assert identity.permissions == gateway_permissions("acme")
    assert identity.permissions == Permissions(
        publish=(
            "connmgr.cmd.acme.>",
            "$JS.API.STREAM.INFO.KV_connmgr_keys",
            "$JS.API.DIRECT.GET.KV_connmgr_keys.>",
            "$JS.API.STREAM.MSG.GET.KV_connmgr_keys",
        ),
        subscribe=("_INBOX.gateway.acme.>",),
    )


def test_the_http_write_scope_alone_gets_the_gateway_identity_and_no_producer_one() -> None:
    http_writer = grant(scopes=frozenset({"connections:write"}))

    gateway = identity_for(request(user="gateway"), http_writer, slots=8)

    assert gateway is not None
    assert gateway.permissions == gateway_permissions("acme")
    assert identity_for(request(), http_writer, slots=8) is None


@pytest.mark.parametrize(
    ("connect", "token"),
    [
        (request(), None),
        (request(), grant(OPERATOR_TENANT, frozenset({"metrics:read"}))),
        (request(), grant(scopes=frozenset({"connections:read"}))),
        (request(user="gateway"), grant(scopes=frozenset({"events:read"}))),
        (request(user="encryptor"), grant()),
        (request(user="tenant-acme"), grant()),
    ],
    ids=["no-grant", "operator", "no-broker-scope", "gateway-without-write", "pool-name", "user"],
)
def test_what_grants_no_identity(connect: ConnectRequest, token: TokenGrant | None) -> None:
    assert identity_for(connect, token, slots=8) is None


def test_a_read_only_token_reads_events_and_publishes_no_command() -> None:
    identity = identity_for(request(), grant(scopes=frozenset({"events:read"})), slots=1)

    assert identity is not None
    assert not any(s.startswith("connmgr.cmd") for s in identity.permissions.publish)
    assert "connmgr.evt.acme.>" in identity.permissions.subscribe


def test_the_user_jwt_expires_and_joins_the_connmgr_account() -> None:
    identity = identity_for(request(), grant(), slots=0)
    assert identity is not None

    claims = user_claims(request(), identity, public_key(ISSUER), now=1000, ttl_s=300)

    assert (claims["iat"], claims["exp"], claims["aud"]) == (1000, 1300, "CONNMGR")
    assert claims["sub"] == "UCLIENT"
    assert claims["iss"] == public_key(ISSUER)
    assert claims["nats"]["pub"]["allow"] == list(identity.permissions.publish)
    assert claims["nats"]["type"] == "user"


def test_a_refusal_says_nothing_of_why() -> None:
    claims = response_claims(request(), public_key(ISSUER), 1000, user_jwt=None)

    assert claims["aud"] == "NSERVER"
    assert claims["nats"] == {
        "type": "authorization_response",
        "version": 2,
        "error": REFUSED,
    }


def test_slot_names_belong_to_exactly_one_tenant() -> None:
    assert event_consumer_slot("a-evt-1", 2) == "a-evt-1-evt-2"
    assert slot_tenant("a-evt-1-evt-2") == "a-evt-1"
    assert slot_tenant("a-evt-2") == "a"
    assert slot_tenant("encryptor") is None
    assert slot_tenant("notifier") is None
    with pytest.raises(ValueError, match="start at 1"):
        event_consumer_slot("a", 0)
    assert producer_permissions("a", write_commands=False, read_events=False, slots=8) == (
        Permissions(publish=("$JS.API.INFO",), subscribe=("_INBOX.tenant.a.>",))
    )
