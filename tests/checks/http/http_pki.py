"""A throw-away PKI for the HTTP check tests: a CA, a server, clients, a rogue CA.

Keys are P-256 (fast to make). The server certificate names ``localhost``,
``api.test`` and ``127.0.0.1``; ``client`` is signed by the CA the mTLS server
trusts, ``rogue_client`` by another CA it does not.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pki:
    ca: Issued
    server: Issued
    client: Issued
    rogue_ca: Issued
    rogue_client: Issued
    folder: Path

    def server_context(self, *, require_client_certificate: bool = False) -> ssl.SSLContext:
        """A server context with the server certificate; optionally mTLS against ``ca``."""
        certfile, keyfile = self.folder / "server.crt", self.folder / "server.key"
        certfile.write_text(self.server.cert_pem)
        keyfile.write_text(self.server.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certfile, keyfile)
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.ca.cert_pem)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issued(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return Issued(cert_pem, key_pem, certificate, key)


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def make_ca(common_name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(common_name, _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _issued(certificate, key)


def issue(ca: Issued, common_name: str, *, server: bool) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(common_name, ca.certificate.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if server:
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.DNSName("api.test"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_pki(folder: Path) -> Pki:
    ca, rogue_ca = make_ca("connmgr test CA"), make_ca("rogue test CA")
    return Pki(
        ca=ca,
        server=issue(ca, "api.test", server=True),
        client=issue(ca, "connmgr-client", server=False),
        rogue_ca=rogue_ca,
        rogue_client=issue(rogue_ca, "connmgr-client", server=False),
        folder=folder,
    )
