"""The JWTs connmgr signs for the ``jwt`` auth method, with PyJWT (RFC 7519, RFC 7515/7518).

HS256 signs with HMAC-SHA256 keyed by the secret's UTF-8 bytes; RS256 with
RSASSA-PKCS1-v1_5 and SHA-256; ES256 with ECDSA on P-256 and SHA-256 (the
signature the 64-byte ``r || s`` JWS requires). Keys for RS256 and ES256 are
unencrypted PEM private keys of that type. A key that cannot sign with the
chosen algorithm is a ``CheckFailed(CONFIG_ERROR)`` whose text holds no key
material: not a private key, another key type or curve, an empty HS256 secret,
or a PEM, SSH or JWK key given as an HS256 secret (PyJWT refuses those against
algorithm confusion; see "JWT and OAuth 1 signing" in ``docs/decisions.md``).
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any, Final

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connmgr.schemas.connection_auth import JwtAuth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed

_UNUSABLE_KEY: Final = "the signing key cannot sign with the configured algorithm"
_PRIVATE_KEY_TYPES: Final[dict[str, type[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]]] = {
    "RS256": rsa.RSAPrivateKey,
    "ES256": ec.EllipticCurvePrivateKey,
}


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
    """``header.payload.signature`` (JWS compact form), the header ``{"alg", "typ": "JWT"}``."""
    signing_key = key if algorithm == "HS256" else _private_key(algorithm, key)
    try:
        with warnings.catch_warnings():
            # An HS256 secret shorter than 32 bytes is the provider's choice: PyJWT's
            # warning, once per process and naming no connection, would help nobody.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return jwt.encode(claims, signing_key, algorithm=algorithm)
    except jwt.InvalidKeyError:
        raise CheckFailed(Outcome.CONFIG_ERROR, _UNUSABLE_KEY) from None


def _private_key(algorithm: str, pem: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CheckFailed(Outcome.CONFIG_ERROR, _UNUSABLE_KEY) from None
    if not isinstance(key, _PRIVATE_KEY_TYPES[algorithm]):
        raise CheckFailed(Outcome.CONFIG_ERROR, _UNUSABLE_KEY)
    return key
