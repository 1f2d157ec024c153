"""Certificates that carry secrets in their subject and issuer, for the reflecting peers.

A clean root CA (the only trust anchor a check is given, as ``ca_pem``) signs an
intermediate CA whose subject holds every secret (one ``OU`` attribute each); the
intermediate signs the server certificate, whose subject holds them too. A server
sends the leaf with the intermediate, so a verifying client sees a valid chain
whose leaf subject *and* issuer are the secrets, while nothing the test stores in
a connection's config (the root) contains one. ``client`` is a client
certificate signed by the root, for mTLS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets as secrets_module
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str
    name: x509.Name
    key: ec.EllipticCurvePrivateKey


def _pem(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _issue(name: x509.Name, issuer: Issued | None, *, ca: bool, server: bool = False) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.name if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip
        builder = builder.add_extension(usage, critical=True)
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    cert_pem, key_pem = _pem(certificate, key)
    return Issued(cert_pem, key_pem, name, key)


def _name(common_name: str, units: Iterable[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units]
    return x509.Name(attributes)


@dataclass(frozen=True)
class ReflectingPki:
    root: Issued
    intermediate: Issued
    server: Issued
    client: Issued

    @classmethod
    def make(cls, secrets: Iterable[str]) -> ReflectingPki:
        """The secrets, and the client certificate and key, go into the subjects: each
        whitespace-separated piece (so every PEM body line) as one ``OU``."""
        tag = secrets_module.token_hex(8)  # no two PKIs share a name
        root = _issue(_name(f"connmgr reflection root {tag}"), None, ca=True)
        client = _issue(_name(f"connmgr client {tag}"), root, ca=False)
        texts = [*secrets, client.cert_pem, client.key_pem]
        units = [piece[:64] for text in texts for piece in text.split() if len(piece) >= 12]
        intermediate = _issue(_name("reflecting CA", units), root, ca=True)
        server = _issue(_name("localhost", units), intermediate, ca=False, server=True)
        return cls(root, intermediate, server, client)

    @property
    def ca_pem(self) -> str:
        """The only anchor a check is given: it holds no secret."""
        return self.root.cert_pem

    def server_context(self) -> ssl.SSLContext:
        """Leaf plus intermediate; asks for (but does not require) a client certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory(prefix="connmgr-reflect-") as folder:
            chain, key = Path(folder) / "chain.pem", Path(folder) / "key.pem"
            chain.write_text(self.server.cert_pem + self.intermediate.cert_pem)
            key.write_text(self.server.key_pem)
            context.load_cert_chain(chain, key)
        context.load_verify_locations(cadata=self.root.cert_pem)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context
