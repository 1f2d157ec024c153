"""What the reflection tests share: secret forms, a leak finder, a reflecting certificate.

``leaks(result, secrets)`` lists the secrets found in a ``CheckResult`` (its repr,
detail and server identity) by the shared scanner: raw, encoded or partial. The peers
put whatever credential they received into every text they control.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

from connmgr.workers.checks.base import CheckResult
from support.secret_scan import findings_in

Serve: TypeAlias = Callable[..., Awaitable[URL]]
"""``await serve(app, ssl_context=None)``: the base URL of a started server on 127.0.0.1."""


def leaks(result: CheckResult, secrets: Iterable[str]) -> list[str]:
    """Masked findings of the secrets in the result (its repr, detail and server
    identity), in every form the shared scanner (``support.secret_scan``) knows."""
    haystacks = {"result": repr(result), "detail": result.detail, "server": str(result.server)}
    return findings_in(secrets, haystacks)


def one_line(text: str) -> str:
    """``text`` fit for a header value or a reason phrase (no line breaks)."""
    return "".join(c if c.isprintable() else " " for c in text)


@dataclass(frozen=True)
class ReflectingTls:
    """A CA and a server certificate for 127.0.0.1 whose names carry ``text``."""

    ca_pem: str
    context: ssl.SSLContext


def _name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value[:64]) for oid, value in parts])


def reflecting_tls(text: str) -> ReflectingTls:
    """Subject (CN, O, OU) and issuer (CN, O) all hold ``text``; the SAN is 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    issuer = _name((NameOID.COMMON_NAME, f"CA {text}"), (NameOID.ORGANIZATION_NAME, text))
    ca = (
        x509.CertificateBuilder().subject_name(issuer).issuer_name(issuer)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    subject = _name(
        (NameOID.COMMON_NAME, text),
        (NameOID.ORGANIZATION_NAME, text),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, text),
    )
    server = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    folder = Path(tempfile.mkdtemp(prefix="connmgr-reflect-"))
    (folder / "server.pem").write_bytes(
        server.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem")
    return ReflectingTls(ca.public_bytes(pem).decode(), context)


def received_text(request: web.Request, body: bytes) -> str:
    """Everything a request carried that may be a credential, decoded where it is encoded."""
    parts: list[str] = []
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("basic "):
        parts.append(base64.b64decode(authorization[6:]).decode("utf-8", "replace"))
    parts += [authorization, request.query_string]
    parts += [value for name, value in request.headers.items() if name.lower() != "host"]
    parts.append(body.decode("utf-8", "replace"))
    return one_line(" ".join(part for part in parts if part))
