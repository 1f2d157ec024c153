"""What a check may record about a server (``connmgr.workers.checks.vetted``): values from
fixed lists and a verified certificate's fixed-form identity, never the server's text.

The certificate tests shake hands in memory with the test PKI's server
(``http_pki``), so what is recorded comes from a real verified chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import ssl
import time
from collections.abc import Iterator

import pytest
from aiohttp import web
from http_pki import Pki
from http_targets import Serve, http_target

from connmgr.workers.checks.base import Outcome, ServerIdentity
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.vetted import (
    certificate_identity,
    http_server_product,
    known_product,
    stream_identity,
)
from connmgr.workers.egress import Egress


def handshake(pki: Pki, client: ssl.SSLContext, server_hostname: str) -> ssl.SSLObject:
    """The client side of a TLS handshake with the PKI's server, done over memory."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    ours = client.wrap_bio(client_in, client_out, server_hostname=server_hostname)
    theirs = pki.server_context().wrap_bio(server_in, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, end in (("client", ours), ("server", theirs)):
            if not done[side]:
                try:
                    end.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    assert all(done.values())
    return ours


def client_context(pki: Pki, *, check_hostname: bool, verify: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=pki.ca.cert_pem)
    context.check_hostname = check_hostname
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    return context


def expected_identity(pki: Pki, subject: str | None) -> ServerIdentity:
    issuer = hashlib.sha256(pki.ca.certificate.subject.public_bytes()).hexdigest()
    return ServerIdentity(
        tls_subject=subject,
        tls_issuer=f"sha256:{issuer}",
        tls_not_after=pki.server.certificate.not_valid_after_utc,
    )


def test_a_verified_certificate_is_the_checked_name_the_issuer_digest_and_the_expiry(
    pki: Pki,
) -> None:
    connection = handshake(pki, client_context(pki, check_hostname=True), "api.test")

    identity = certificate_identity(connection)

    assert identity == expected_identity(pki, "api.test")
    assert identity is not None
    assert identity.tls_not_after is not None
    assert identity.tls_not_after.utcoffset() is not None


@pytest.fixture
def local_time_zone() -> Iterator[dt.timedelta]:
    """The process runs in a zone 5 h 30 east of UTC (a POSIX TZ, no zone database needed)."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "XST-05:30"
    time.tzset()
    try:
        yield dt.timedelta(hours=5, minutes=30)
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


def test_the_expiry_is_recorded_in_utc_whatever_the_local_time_zone(
    pki: Pki, local_time_zone: dt.timedelta
) -> None:
    connection = handshake(pki, client_context(pki, check_hostname=True), "api.test")
    assert dt.datetime.now().astimezone().utcoffset() == local_time_zone

    identity = certificate_identity(connection)

    assert identity is not None
    assert identity.tls_not_after is not None
    assert identity.tls_not_after.utcoffset() == dt.timedelta(0)
    assert identity.tls_not_after.isoformat().endswith("+00:00")


def test_a_chain_verified_without_its_name_records_no_subject(pki: Pki) -> None:
    """Module doc: ``tls_subject`` only when the handshake checked the name."""
    connection = handshake(pki, client_context(pki, check_hostname=False), "api.test")

    assert certificate_identity(connection) == expected_identity(pki, None)


def test_an_unverified_certificate_and_no_tls_record_nothing(pki: Pki) -> None:
    unverified = client_context(pki, check_hostname=False, verify=False)
    connection = handshake(pki, unverified, "api.test")

    assert certificate_identity(connection) is None
    assert certificate_identity(None) is None


class Stream:
    """A transport or stream writer: only ``get_extra_info`` matters."""

    def __init__(self, ssl_object: object) -> None:
        self.ssl_object = ssl_object

    def get_extra_info(self, name: str) -> object:
        return self.ssl_object if name == "ssl_object" else None


def test_a_stream_is_identified_by_its_ssl_object_only(pki: Pki) -> None:
    connection = handshake(pki, client_context(pki, check_hostname=True), "api.test")

    assert stream_identity(Stream(connection)) == expected_identity(pki, "api.test")
    assert stream_identity(Stream("api.test CN=secret")) is None
    assert stream_identity(Stream(None)) is None
    assert stream_identity(object()) is None


@pytest.mark.parametrize(
    ("header", "with_version", "recorded"),
    [
        ("nginx/1.25.3", True, "nginx/1.25.3"),
        ("NGINX/1.25.3 (Ubuntu)", True, "nginx/1.25.3"),
        ("hunter2/9.9 Apache/2.4.58 (Unix)", True, "Apache/2.4.58"),
        ("Apache/2.4.58", False, "Apache"),
        ("gunicorn", True, "gunicorn"),
        ("Caddy/secret-build", True, "Caddy"),
        ("envoy/1.2.3.4.5", True, "envoy"),
        ("my-secret-server/1.0", True, None),
        ("", True, None),
        (None, True, None),
    ],
)
def test_a_server_header_is_reduced_to_a_listed_product_and_its_number(
    header: str | None, with_version: bool, recorded: str | None
) -> None:
    assert http_server_product(header, with_version=with_version) == recorded


async def test_an_http_check_records_the_server_product_with_its_version(
    serve: Serve, egress: Egress
) -> None:
    async def status(request: web.Request) -> web.Response:
        return web.json_response({}, headers={"Server": "nginx/1.25.3 (Ubuntu) hunter2/1"})

    app = web.Application()
    app.router.add_get("/", status)

    result = await HttpCheck(egress).run(http_target(await serve(app)))

    assert result.outcome is Outcome.OK, result
    assert result.server == ServerIdentity(version="nginx/1.25.3")


@pytest.mark.parametrize(
    ("banner", "recorded"),
    [
        ("220 mx.example ESMTP Postfix (Debian/GNU)", "Postfix"),
        ("220 mx.example ESMTP EXIM 4.96 hunter2", "Exim"),
        ("220 mx.example ESMTP Exim and Postfix", "Exim"),
        ("220 mx.example ESMTP s3cret-9f2c", None),
    ],
)
def test_a_banner_is_reduced_to_the_first_listed_product_it_mentions(
    banner: str, recorded: str | None
) -> None:
    assert known_product(banner, ("Exim", "Postfix")) == recorded
