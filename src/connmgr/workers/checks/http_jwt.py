"""A minimal JWS compact encoder for the JWTs connmgr signs (RFC 7515, RFC 7518).

HS256 signs with HMAC-SHA256 keyed by the secret's UTF-8 bytes; RS256 with
RSASSA-PKCS1-v1_5 and SHA-256; ES256 with ECDSA on P-256 and SHA-256, the
signature as the 64-byte ``r || s`` JWS requires (not DER). Keys for RS256 and
ES256 are unencrypted PEM private keys. A key that cannot sign with the chosen
algorithm is a ``CheckFailed(CONFIG_ERROR)``; no key material reaches it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from connmgr.schemas.auth import JwtAuth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed

_UNUSABLE_KEY = "the signing key cannot sign with the configured algorithm"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims_for(auth: JwtAuth, now: float) -> dict[str, Any]:
    """The configured claims, then ``iss``/``sub``/``aud``/``iat``/``exp``/``jti`` over them."""
    issued = int(now)
    standard: dict[str, Any] = {
        "iss": auth.issuer,
        "sub": auth.subject,
        "aud": auth.audience,
        "iat": issued,
        "exp": issued + auth.ttl_s,
        "jti": uuid.uuid4().hex,
    }
    return {**auth.claims, **{k: v for k, v in standard.items() if v is not None}}


def encode_jwt(algorithm: str, key: str, claims: dict[str, Any]) -> str:
    """``header.payload.signature``, each part base64url without padding."""
    header = {"alg": algorithm, "typ": "JWT"}
    parts = [b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
    signing_input = ".".join(parts).encode("ascii")
    return f"{signing_input.decode()}.{b64url(_sign(algorithm, key, signing_input))}"


def _sign(algorithm: str, key: str, message: bytes) -> bytes:
    if algorithm == "HS256":
        if not key:
            raise CheckFailed(Outcome.CONFIG_ERROR, _UNUSABLE_KEY)
        return hmac.new(key.encode(), message, hashlib.sha256).digest()
    private_key = _load_private_key(key)
    if algorithm == "RS256" and isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    if (
        algorithm == "ES256"
        and isinstance(private_key, ec.EllipticCurvePrivateKey)
        and isinstance(private_key.curve, ec.SECP256R1)
    ):
        r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise CheckFailed(Outcome.CONFIG_ERROR, _UNUSABLE_KEY)


def _load_private_key(pem: str) -> object:
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CheckFailed(Outcome.CONFIG_ERROR, _UNUSABLE_KEY) from None
