"""The shared pieces of the database checks: logins, TLS modes, what a server may report."""

from __future__ import annotations

import ssl

import pytest
from db_pki import SelfSigned

from connmgr.schemas.auth import ApiKeyAuth, BasicAuth, MtlsAuth, NoAuth
from connmgr.schemas.kinds import Kind, PostgresConfig, RedisConfig
from connmgr.workers.checks import logins
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.logins import Login, kind_tls, login_of, sql_tls
from connmgr.workers.checks.postgres import PostgresCheck
from connmgr.workers.checks.vetted import version_number
from connmgr.workers.egress import Egress
from support.secret_scan import SecretScanner

CONFIG = PostgresConfig(host="db.example", database="app")


def _target(auth: object, secrets: dict[str, str]) -> CheckTarget:
    return CheckTarget("c", Kind.POSTGRES, CONFIG, auth, secrets, 1.0)  # type: ignore[arg-type]


def test_basic_auth_logs_in_with_the_stored_password() -> None:
    password = "s3cret-8f1d2c6b9a"
    login = login_of(_target(BasicAuth(username="app"), {"password": password}))

    assert (login.user, login.password) == ("app", password)
    scanner = SecretScanner()
    scanner.add("password", password)
    scanner.assert_clean({"repr": repr(login), "str": str(login)})


def test_mtls_logs_in_as_the_certificates_common_name(certificate: SelfSigned) -> None:
    secrets = {"client_cert_pem": certificate.cert_pem, "client_key_pem": certificate.key_pem}

    login = login_of(_target(MtlsAuth(), secrets))

    assert login.user == "postgres.db.test"
    scanner = SecretScanner()
    scanner.add_pem("client key", certificate.key_pem, public=[certificate.cert_pem])
    scanner.assert_clean({"repr": repr(login), "str": str(login)})


@pytest.mark.parametrize(
    ("auth", "secrets"),
    [(BasicAuth(username="app"), {}), (MtlsAuth(), {"client_cert_pem": "x"}), (ApiKeyAuth(), {})],
)
def test_a_missing_secret_or_a_foreign_method_is_a_config_error(
    auth: object, secrets: dict[str, str]
) -> None:
    with pytest.raises(CheckFailed) as failure:
        login_of(_target(auth, secrets))

    assert failure.value.outcome is Outcome.CONFIG_ERROR


async def test_a_sql_login_without_a_user_is_a_config_error(egress: Egress) -> None:
    result = await PostgresCheck(egress).run(_target(NoAuth(), {}))

    assert (result.outcome, result.detail) == (Outcome.CONFIG_ERROR, logins.NEEDS_USER)
    assert result.phases == {}


async def test_a_config_of_another_kind_is_a_bug_that_raises(egress: Egress) -> None:
    target = CheckTarget("c", Kind.POSTGRES, RedisConfig(host="x"), NoAuth(), {}, 1.0)

    with pytest.raises(TypeError):
        await PostgresCheck(egress).run(target)


@pytest.mark.parametrize(
    ("mode", "verify_mode", "check_hostname"),
    [
        ("require", ssl.CERT_NONE, False),
        ("verify-ca", ssl.CERT_REQUIRED, False),
        ("verify-full", ssl.CERT_REQUIRED, True),
    ],
)
def test_each_ssl_mode_verifies_what_its_name_says(
    mode: str, verify_mode: ssl.VerifyMode, check_hostname: bool
) -> None:
    config = CONFIG.model_copy(update={"ssl": mode})

    context = sql_tls(config, Login("app"))

    assert context is not None
    assert (context.verify_mode, context.check_hostname) == (verify_mode, check_hostname)


def test_ssl_disable_means_no_tls() -> None:
    assert sql_tls(CONFIG.model_copy(update={"ssl": "disable"}), Login("app")) is None


@pytest.mark.parametrize(
    ("reported", "recorded"),
    [
        ("16.4 (Debian 16.4-1.pgdg120+1)", "16.4"),
        ("10.11.6-MariaDB-0+deb12u1", "10.11.6"),
        ("7.0.15", "7.0.15"),
        ("8.0.36-log", "8.0.36"),
        ("15.2\x1b[31m\n" + "x" * 500, "15.2"),
        ("1.2.3.4.5", None),  # more parts than a version has
        ("123456", None),  # not a version number: a numeric secret, say
        ("hunter2 7.0", None),  # text first: nothing is taken from it
        ("", None),
        (b"7.0", None),
        (None, None),
    ],
)
def test_a_reported_version_is_reduced_to_its_number(
    reported: object, recorded: str | None
) -> None:
    assert version_number(reported) == recorded


def test_a_login_keeps_the_mtls_pair_it_was_given(certificate: SelfSigned) -> None:
    secrets = {"client_cert_pem": certificate.cert_pem, "client_key_pem": certificate.key_pem}

    login = login_of(_target(MtlsAuth(), secrets))

    assert login == Login("postgres.db.test", None, certificate.cert_pem, certificate.key_pem)


@pytest.mark.parametrize(
    ("auth", "secrets", "detail"),
    [
        (BasicAuth(username="app"), {}, logins.MISSING_SECRET),
        (MtlsAuth(), {"client_key_pem": "x"}, logins.MISSING_SECRET),
        (ApiKeyAuth(), {"api_key": "k-5d1e0c9b7a"}, "this auth method is not supported here"),
    ],
)
def test_a_refused_login_says_why_in_a_fixed_sentence(
    auth: object, secrets: dict[str, str], detail: str
) -> None:
    with pytest.raises(CheckFailed) as failure:
        login_of(_target(auth, secrets))

    assert (failure.value.outcome, failure.value.detail) == (Outcome.CONFIG_ERROR, detail)


@pytest.mark.parametrize(("server_name", "pinned"), [(None, "db.example"), ("pg.test", "pg.test")])
def test_the_tls_context_is_pinned_to_the_server_name_or_the_host_and_trusts_the_ca(
    certificate: SelfSigned, server_name: str | None, pinned: str
) -> None:
    config = CONFIG.model_copy(update={"server_name": server_name, "ca_pem": certificate.ca_pem})

    context = kind_tls(config, Login("app"))

    assert getattr(context, "pinned_hostname", None) == pinned
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert any(
        dict(entry[0] for entry in ca["subject"]).get("commonName") == "postgres.db.test"
        for ca in context.get_ca_certs()
    )
