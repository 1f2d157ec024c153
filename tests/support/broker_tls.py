"""A throw-away CA and a broker certificate for ``infra/nats/tls.conf`` (``cryptography``).

``BrokerTls.make(folder)`` writes ``ca.pem`` and the server's ``tls.crt`` and
``tls.key`` (the names of a Kubernetes TLS Secret), valid for 127.0.0.1 and the
broker's service names. The CA is in no trust store: a client verifies the broker
only when it is given ``ca``.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BROKER_NAMES = ("localhost", "nats", "connmgr-nats")


@dataclass(frozen=True)
class BrokerTls:
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, folder: Path) -> BrokerTls:
        folder.mkdir(parents=True, exist_ok=True)
        ca_key, key = (
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connmgr test broker CA")])
        ca = _signed(
            _builder(ca_name, ca_name, ca_key).add_extension(
                x509.BasicConstraints(ca=True, path_length=0), critical=True
            ),
            ca_key,
        )
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in BROKER_NAMES]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nats")])
        server = _signed(
            _builder(subject, ca_name, key).add_extension(
                x509.SubjectAlternativeName(names), critical=False
            ),
            ca_key,
        )
        paths = cls(folder / "ca.pem", folder / "tls.crt", folder / "tls.key")
        paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        paths.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return paths


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _signed(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return builder.sign(key, hashes.SHA256())
