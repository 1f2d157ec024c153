"""A self-signed server certificate for the database-check TLS tests (``cryptography``).

It names ``*.db.test``, which the tests' egress resolver maps to 127.0.0.1, so
a check connects to the loopback address while SNI and verification use the
name. It is in no trust store: a check verifies it only when given ``ca_pem``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVER_NAMES = ("postgres.db.test", "mongo.db.test", "redis.db.test", "mysql.db.test")


@dataclass(frozen=True)
class SelfSigned:
    cert_pem: str
    key_pem: str = ""

    @property
    def ca_pem(self) -> str:
        """A self-signed certificate is its own trust anchor."""
        return self.cert_pem

    @classmethod
    def make(cls, common_name: str | None = SERVER_NAMES[0]) -> SelfSigned:
        """``common_name=None``: a subject with an organization name only."""
        key = ec.generate_private_key(ec.SECP256R1())
        attribute = (
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "connmgr tests")
            if common_name is None
            else x509.NameAttribute(NameOID.COMMON_NAME, common_name)
        )
        name = x509.Name([attribute])
        now = datetime.datetime.now(datetime.UTC)
        names = [x509.DNSName(server) for server in SERVER_NAMES]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return cls(certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem)
