"""A throw-away certificate authority for the service-check tests (made with ``cryptography``).

``Pki.make(folder)`` creates a self-signed CA, a server certificate for the
``*.connmgr.test`` names the tests' egress resolver maps to 127.0.0.1, and a
client certificate for mTLS. None of them is in the system trust store, so a
check verifies the server only when it is given ``ca_pem``.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("mail.connmgr.test", "s3.connmgr.test", "tcp.connmgr.test", "localhost")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    server_chain: Path
    client_cert_pem: str
    client_key_pem: str

    @classmethod
    def make(cls, folder: Path) -> Pki:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _issue(
            "connmgr test CA", ca_key, None, [(x509.BasicConstraints(ca=True, path_length=0), True)]
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        server = _issue(
            "mail.connmgr.test",
            server_key,
            (ca.subject, ca_key),
            [(x509.SubjectAlternativeName(names), False)],
        )
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = _issue(
            "connmgr test client",
            client_key,
            (ca.subject, ca_key),
            [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
        )
        chain = folder / "server.pem"
        chain.write_text(_pem(server) + _key_pem(server_key))
        return cls(_pem(ca), chain, _pem(client), _key_pem(client_key))

    def server_context(self, *, require_client_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_chain)
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.ca_pem)
        return context
