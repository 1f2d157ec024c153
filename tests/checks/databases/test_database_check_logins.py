"""The shared pieces of the database checks: logins, TLS modes, what a server may report."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from db_peers import server_context
from db_pki import SelfSigned

from connmgr.schemas.connection_auth import ApiKeyAuth, BasicAuth, MtlsAuth, NoAuth
from connmgr.schemas.kinds import Kind, PostgresConfig, RedisConfig
from connmgr.workers.checks import logins
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.logins import Login, common_name, kind_tls, login_of, sql_tls
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


@pytest.mark.parametrize(
    ("server_name", "pinned"),
    [(None, "db.example"), ("pg.test", "pg.test"), ("pg.test.", "pg.test")],
)
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


def _with_common_name_encoded_as(tag: int, content: bytes) -> SelfSigned:
    """A certificate whose common name is re-encoded as DER ``tag`` with ``content`` (3
    bytes) after signing: the signature no longer matches, which reading the name never
    checks."""
    made = SelfSigned.make("xcn")
    der = x509.load_pem_x509_certificate(made.cert_pem.encode()).public_bytes(Encoding.DER)
    common_name_oid = bytes.fromhex("0603550403")
    utf8 = common_name_oid + bytes([0x0C, 3]) + b"xcn"
    assert utf8 in der
    patched = der.replace(utf8, common_name_oid + bytes([tag, 3]) + content)
    return SelfSigned(ssl.DER_cert_to_PEM_cert(patched), made.key_pem)


@pytest.mark.parametrize(
    "certificate_of",
    [
        lambda: SelfSigned.make(common_name=None),
        lambda: _with_common_name_encoded_as(0x03, b"\0cn"),  # a BIT STRING
        lambda: _with_common_name_encoded_as(0x0C, b"c\xffn"),  # a UTF8String that is not
    ],
    ids=["no-common-name", "bit-string", "invalid-utf8"],
)
async def test_a_certificate_without_a_readable_common_name_logs_in_as_no_one(
    egress: Egress, certificate_of: Callable[[], SelfSigned]
) -> None:
    """Module doc: ``common_name`` is None when the certificate has none or it is invalid;
    a kind that needs a user then refuses the login before connecting."""
    client = certificate_of()
    secrets = {"client_cert_pem": client.cert_pem, "client_key_pem": client.key_pem}

    login = login_of(_target(MtlsAuth(), secrets))
    result = await PostgresCheck(egress).run(_target(MtlsAuth(), secrets))

    assert common_name(client.cert_pem) is None
    assert login == Login(None, None, client.cert_pem, client.key_pem)
    assert (result.outcome, result.detail) == (Outcome.CONFIG_ERROR, logins.NEEDS_USER)
    assert result.phases == {}


async def test_mtls_presents_the_logins_certificate_to_a_server_that_requires_one(
    certificate: SelfSigned, folder: str
) -> None:
    """A TLS server on 127.0.0.1 that accepts only clients certified by a CA it trusts
    greets the certificate's common name, the user the login was read from."""
    client = SelfSigned.make("app-client")
    server = server_context(certificate.cert_pem, certificate.key_pem, folder)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cadata=client.cert_pem)

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subject = dict(entry[0] for entry in writer.get_extra_info("peercert")["subject"])
        writer.write(f"hello {subject['commonName']}\n".encode())
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    secrets = {"client_cert_pem": client.cert_pem, "client_key_pem": client.key_pem}
    login = login_of(_target(MtlsAuth(), secrets))
    config = CONFIG.model_copy(update={"host": "postgres.db.test", "ca_pem": certificate.ca_pem})
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=kind_tls(config, login), server_hostname="127.0.0.1"
        )
        greeting = await asyncio.wait_for(reader.readline(), timeout=5)
        writer.close()
    finally:
        listener.close()

    assert login.user == "app-client"
    assert greeting == b"hello app-client\n"
