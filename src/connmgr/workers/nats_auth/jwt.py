"""The two JWTs of NATS auth callout, built by hand (``nats-jwt`` has no callout claims).

Format (checked against nats-server 2.15.1): header ``{"typ": "JWT", "alg":
"ed25519-nkey"}``, claims, each base64url without padding, and an Ed25519
signature over ``header.claims`` by the issuer's nkey. The server's request is
read with ``request_claims``: it arrives on ``$SYS.REQ.USER.AUTH``, a subject
only the server publishes on (no other identity may publish under ``$SYS``).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any, Final, Protocol

JWT_HEADER: Final = {"typ": "JWT", "alg": "ed25519-nkey"}


class Signer(Protocol):
    """An nkey pair (``nkeys.KeyPair``): signs bytes, knows its public key."""

    def sign(self, input: bytes) -> bytes: ...

    @property
    def public_key(self) -> bytes: ...


class MalformedRequest(ValueError):
    """The callout request is no JWT we can read."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], signer: Signer) -> str:
    """``claims`` signed by ``signer`` (its public key is expected as ``iss``)."""
    header = _b64(json.dumps(JWT_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = signer.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{_b64(signature)}"


def request_claims(token: bytes) -> dict[str, Any]:
    """The claims of the server's authorization request; ``MalformedRequest`` otherwise."""
    try:
        parts = token.decode("ascii").split(".")
        if len(parts) != 3:
            raise MalformedRequest("not a JWT")
        claims = json.loads(_unb64(parts[1]))
    except (UnicodeDecodeError, binascii.Error, ValueError) as error:
        raise MalformedRequest("not a JWT") from error
    if not isinstance(claims, dict):
        raise MalformedRequest("claims are not an object")
    return claims


def new_jti() -> str:
    return secrets.token_hex(16)
