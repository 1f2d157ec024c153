"""Every field that decides where or how a stored secret is sent, one test each: changing
it without the secrets is refused (``secrets_required``), with them it is accepted; a
harmless field changes freely. The cases must cover ``schemas.secret_destinations``."""

from __future__ import annotations

import copy
import uuid
from typing import Any, NamedTuple

import pytest

from connmgr.schemas.kinds import Kind
from connmgr.schemas.secret_destinations import AUTH_FIELDS, DESTINATION_FIELDS, TLS_FIELDS
from support.commands import command, sealed
from support.encryptor import Encryptor

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
BASIC = ({"method": "basic", "username": "app"}, {"password": "pw-1"})
BEARER = ({"method": "bearer"}, {"token": "tk-1"})
MTLS = ({"method": "mtls"}, {"client_cert_pem": PEM, "client_key_pem": PEM})


class Base(NamedTuple):
    config: dict[str, Any]
    auth: dict[str, Any]
    secrets: dict[str, str]


KINDS: dict[Kind, Base] = {
    Kind.POSTGRES: Base({"host": "db.internal", "port": 5432, "database": "orders"}, *BASIC),
    Kind.MYSQL: Base({"host": "db.internal", "port": 3306}, *BASIC),
    Kind.MONGODB: Base({"host": "db.internal", "port": 27017, "replica_set": "rs0"}, *BASIC),
    Kind.REDIS: Base({"host": "cache.internal", "port": 6379, "tls": True}, *BASIC),
    Kind.HTTP: Base({"base_url": "https://api.example.com"}, *BEARER),
    Kind.WEBHOOK: Base({"url": "https://hooks.example.com/in"}, *BEARER),
    Kind.S3: Base(
        {"bucket": "my-bucket", "region": "us-east-1", "endpoint_url": "https://s3.example.com"},
        *BASIC,
    ),
    Kind.SMTP: Base({"host": "mail.example.com", "port": 587, "security": "starttls"}, *BASIC),
    Kind.IMAP: Base({"host": "mail.example.com", "port": 993, "security": "implicit"}, *BASIC),
    Kind.TCP: Base({"host": "svc.internal", "port": 7000, "tls": True}, *MTLS),
}

CHANGED_CONFIG: dict[str, Any] = {
    "host": "elsewhere.example.net",
    "port": 2525,
    "replica_set": "rs-other",
    "base_url": "https://api.example.net",
    "url": "https://hooks.example.net/in",
    "endpoint_url": "https://s3.example.net",
    "bucket": "other-bucket",
    "region": "eu-west-1",
    "addressing_style": "path",
    "ca_pem": PEM,
    "server_name": "other.example.net",
}
WEAKER: dict[tuple[Kind, str], Any] = {
    (Kind.POSTGRES, "ssl"): "require",  # from verify-full
    (Kind.MYSQL, "ssl"): "disable",
    (Kind.MONGODB, "tls"): False,
    (Kind.REDIS, "tls"): False,
    (Kind.SMTP, "security"): "implicit",  # sideways: another channel, not a stronger one
    (Kind.IMAP, "security"): "starttls",
    (Kind.TCP, "tls"): False,
}

AUTHS: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, Any]]] = {
    "api_key": (
        {"method": "api_key", "placement": "header", "name": "X-API-Key"},
        {"api_key": "k-1"},
        {"placement": "query", "name": "X-Other-Key"},
    ),
    "basic": (BASIC[0], BASIC[1], {"username": "root"}),
    "oauth2": (
        {
            "method": "oauth2",
            "token_url": "https://auth.example.com/token",
            "client_id": "cid",
            "scopes": ["read"],
            "audience": "api",
        },
        {"client_secret": "cs-1"},
        {
            "token_url": "https://auth.example.net/token",
            "client_id": "other",
            "scopes": ["read", "write"],
            "audience": "other-api",
        },
    ),
    "oauth1": (
        {"method": "oauth1", "consumer_key": "ck", "token": "tk"},
        {"consumer_secret": "s-1"},
        {"consumer_key": "ck2", "token": "tk2"},
    ),
    "custom_headers": (
        {"method": "custom_headers", "header_names": ["X-Token"]},
        {"X-Token": "v-1"},
        {"header_names": ["X-Token", "X-Other"]},
    ),
    "jwt": (
        {
            "method": "jwt",
            "issuer": "connmgr",
            "subject": "svc",
            "audience": "api",
            "claims": {"role": "reader"},
        },
        {"signing_key": "key-1"},
        {
            "algorithm": "ES256",
            "issuer": "other",
            "subject": "admin",
            "audience": "other-api",
            "claims": {"role": "admin"},
        },
    ),
}


class Case(NamedTuple):
    kind: Kind
    base: Base
    change: dict[str, Any]
    new_secrets: dict[str, str]


def _config_cases() -> dict[str, Case]:
    cases = {}
    for kind, base in KINDS.items():
        for name in (*DESTINATION_FIELDS[kind], "ca_pem", "server_name"):
            config = {**base.config, name: CHANGED_CONFIG[name]}
            cases[f"{kind.value}-{name}"] = Case(kind, base, {"config": config}, base.secrets)
        for name in TLS_FIELDS[kind]:
            config = {**base.config, name: WEAKER[(kind, name)]}
            cases[f"{kind.value}-{name}"] = Case(kind, base, {"config": config}, base.secrets)
    return cases


def _auth_cases() -> dict[str, Case]:
    cases = {}
    http = KINDS[Kind.HTTP]
    for method, (auth, secrets, changes) in AUTHS.items():
        base = Base(http.config, auth, secrets)
        for name, value in changes.items():
            new_secrets = (
                {"X-Token": "v-2", "X-Other": "v-3"} if name == "header_names" else secrets
            )
            change = {"auth": {**auth, name: value}}
            cases[f"{method}-{name}"] = Case(Kind.HTTP, base, change, new_secrets)
    return cases


CASES = {**_config_cases(), **_auth_cases()}


def test_the_cases_cover_every_field_of_the_table() -> None:
    expected = {
        f"{kind.value}-{name}"
        for kind in Kind
        for name in (*DESTINATION_FIELDS[kind], "ca_pem", "server_name", *TLS_FIELDS[kind])
    } | {f"{method}-{name}" for method, names in AUTH_FIELDS.items() for name in names}
    assert set(CASES) == expected


async def created(encryptor: Encryptor, base: Base, kind: Kind) -> str:
    connection_id = str(uuid.uuid4())
    key = encryptor.keyring.seal_public_info()
    payload = {
        "name": "conn",
        "kind": kind.value,
        "config": base.config,
        "auth": base.auth,
        "secrets": sealed(base.secrets, key, connection_id),
    }
    outcome = await encryptor.one(command("create", connection_id, payload))
    assert outcome.outcome == "accepted", outcome
    return connection_id


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_a_field_that_moves_the_secret_needs_the_secrets_again(
    encryptor: Encryptor, case: Case
) -> None:
    connection_id = await created(encryptor, case.base, case.kind)

    refused = await encryptor.one(command("update", connection_id, copy.deepcopy(case.change)))
    assert (refused.outcome, refused.reason) == ("rejected", "secrets_required")
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.version == 1

    key = encryptor.keyring.seal_public_info()
    with_secrets = {**case.change, "secrets": sealed(case.new_secrets, key, connection_id)}
    accepted = await encryptor.one(command("update", connection_id, with_secrets))
    assert (accepted.outcome, accepted.version) == ("accepted", 2), accepted


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (Kind.POSTGRES, {"name": "renamed", "tags": ["x"], "description": "new words"}),
        (Kind.POSTGRES, {"config": {**KINDS[Kind.POSTGRES].config, "database": "billing"}}),
        (Kind.POSTGRES, {"config": {**KINDS[Kind.POSTGRES].config, "ssl": "verify-full"}}),
        (Kind.SMTP, {"config": {**KINDS[Kind.SMTP].config, "security": "starttls"}}),
        (Kind.HTTP, {"config": {**KINDS[Kind.HTTP].config, "test": {"path": "/health"}}}),
        (Kind.HTTP, {"config": {**KINDS[Kind.HTTP].config, "headers": {"Accept": "text/x"}}}),
        (Kind.HTTP, {"health_check": {"enabled": True, "interval_s": 30}}),
    ],
    ids=["name-tags-description", "database", "ssl-unchanged", "security-unchanged",
         "test-path", "static-headers", "health-check"],
)  # fmt: skip
async def test_a_harmless_change_keeps_the_stored_secrets(
    encryptor: Encryptor, kind: Kind, change: dict[str, Any]
) -> None:
    connection_id = await created(encryptor, KINDS[kind], kind)
    outcome = await encryptor.one(command("update", connection_id, change))
    assert outcome.outcome == "accepted", outcome
    state = await encryptor.state(connection_id)
    assert state is not None
    assert state.secrets is not None


async def test_strengthening_tls_keeps_the_stored_secrets(encryptor: Encryptor) -> None:
    base = Base({**KINDS[Kind.POSTGRES].config, "ssl": "require"}, *BASIC)
    connection_id = await created(encryptor, base, Kind.POSTGRES)
    stronger = {"config": {**base.config, "ssl": "verify-full"}}
    assert (await encryptor.one(command("update", connection_id, stronger))).outcome == "accepted"
    weaker = {"config": {**base.config, "ssl": "disable"}}
    refused = await encryptor.one(command("update", connection_id, weaker))
    assert refused.reason == "secrets_required"
    assert "payload.config.ssl" in [error.field for error in refused.errors]
