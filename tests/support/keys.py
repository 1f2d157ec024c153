"""Throwaway key material for tests that look for secrets."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def private_key_pem() -> str:
    """A fresh P-256 private key as unencrypted PKCS#8 PEM: a secret no other test shares."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
