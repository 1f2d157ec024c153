"""Test peers that verify each auth method the way a real provider does.

``Provider.app()`` serves one route per method; each rejects with 401 unless
the credentials verify: basic credentials compared, API keys in a header or
the query, a bearer token, custom secret headers, an OAuth 2 token endpoint
(client credentials in HTTP Basic, form-decoded; refresh tokens; short-lived
tokens the resource route checks), OAuth 1 signatures recomputed from the
request as received (timestamp window, nonce replay), and JWTs verified per
algorithm (the header, signature, ``iat``, ``exp``, ``aud``, ``iss``, ``sub``
and the configured claims). The verification code is
written here independently of connmgr's, so the two must agree on the RFCs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

BASIC_USER = "app"
BASIC_PASSWORD = "pw-Basic:7d1f!é"
API_KEY = "ak-3b9e2c-key"
BEARER_TOKEN = "bt-51c0a7-token"
CUSTOM_HEADERS = {"X-Auth-Key": "ch-key-0f3a", "X-Auth-Signature": "ch-sig-8e21"}
CLIENT_ID = "connmgr client"
CLIENT_SECRET = "cs/OAuth2+secret=9&x"
REFRESH_TOKEN = "rt-6d2f0b-refresh"
SCOPE = "read:status write:none"
AUDIENCE = "https://api.test"
TOKEN_LIFETIME_S = 120
CONSUMER_KEY = "ck-dpf43f3p"
CONSUMER_SECRET = "cs-kd94hf93k423kf44"
OAUTH1_TOKEN = "tk-nnch734d"
OAUTH1_TOKEN_SECRET = "ts-pfkkdhi9sl3r4s00"
HS256_SECRET = "hs-9a8b7c6d5e4f-shared"
JWT_ISSUER = "connmgr"
JWT_AUDIENCE = "https://api.test/jwt"
JWT_SUBJECT = "connmgr-test"
JWT_CLAIMS = {"tenant": "default"}

ALL_SECRETS = (
    BASIC_PASSWORD, API_KEY, BEARER_TOKEN, *CUSTOM_HEADERS.values(), CLIENT_SECRET,
    REFRESH_TOKEN, CONSUMER_SECRET, OAUTH1_TOKEN_SECRET, HS256_SECRET,
)  # fmt: skip

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="test"'}


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class JwtKeys:
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey


def verify_jwt(token: str, algorithm: str, keys: JwtKeys, now: float) -> bool:
    """The header (``alg`` as routed, ``typ`` JWT), the signature, then the claims."""
    try:
        header_part, claims_part, signature_part = token.split(".")
        if json.loads(b64url_decode(header_part)) != {"alg": algorithm, "typ": "JWT"}:
            return False
        signed, signature = f"{header_part}.{claims_part}".encode(), b64url_decode(signature_part)
        if algorithm == "HS256":
            expected = hmac.new(HS256_SECRET.encode(), signed, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, signature):
                return False
        elif algorithm == "RS256":
            public = keys.rsa_key.public_key()
            public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            der = encode_dss_signature(r, s)
            keys.ec_key.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))
        claims: dict[str, Any] = json.loads(b64url_decode(claims_part))
    except (ValueError, InvalidSignature):
        return False
    fresh = bool(claims.get("iat", now + 1) <= now + 5 and claims.get("exp", 0) > now)
    expected = {"aud": JWT_AUDIENCE, "iss": JWT_ISSUER, "sub": JWT_SUBJECT, **JWT_CLAIMS}
    return fresh and all(claims.get(name) == value for name, value in expected.items())


def oauth1_signature(request: web.Request, params: dict[str, str], token_secret: str) -> str:
    """RFC 5849 3.4 from the request as received, written independently of connmgr's."""

    def enc(text: str) -> str:
        return quote(text, safe="")

    pairs = [*request.query.items()]
    pairs += [(k, v) for k, v in params.items() if k not in ("oauth_signature", "realm")]
    normalised = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in pairs))
    base_uri = f"{request.scheme}://{request.host.lower()}{request.raw_path.split('?')[0]}"
    base = "&".join(enc(part) for part in (request.method, base_uri, normalised))
    key = f"{enc(CONSUMER_SECRET)}&{enc(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


@dataclass
class Provider:
    """The verifying peer; ``now`` is its clock, ``grants`` the token requests it saw,
    ``issued`` the access tokens it gave out, ``presented_jwts`` the JWTs it was sent."""

    jwt_keys: JwtKeys
    now: Callable[[], float] = time.time
    grants: list[str] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    hits: list[str] = field(default_factory=list)
    presented_jwts: list[str] = field(default_factory=list)

    def runtime_tokens(self) -> tuple[list[str], list[str]]:
        """The access tokens this provider issued and the JWTs connmgr presented to it:
        secrets made at run time, which a "no secret" test scans for too."""
        return list(self.issued), list(self.presented_jwts)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/basic", self.basic)
        app.router.add_get("/api-key/header", self.api_key_header)
        app.router.add_get("/api-key/query", self.api_key_query)
        app.router.add_get("/bearer", self.bearer)
        app.router.add_get("/custom", self.custom)
        app.router.add_post("/oauth2/token", self.oauth2_token)
        app.router.add_get("/oauth2/resource", self.oauth2_resource)
        app.router.add_get("/oauth1/resource", self.oauth1_resource)
        app.router.add_get("/oauth1/two-legged", self.oauth1_two_legged)
        app.router.add_get("/jwt/{algorithm}", self.jwt)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.hits.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    @staticmethod
    def verdict(accepted: bool) -> web.Response:
        if accepted:
            return web.json_response({"ok": True})
        return web.json_response({"error": "unauthorized"}, status=401, headers=_UNAUTHORIZED)

    async def basic(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
        given = request.headers.get("Authorization", "")
        return self.verdict(hmac.compare_digest(given.encode(), f"Basic {expected}".encode()))

    async def api_key_header(self, request: web.Request) -> web.Response:
        return self.verdict(request.headers.get("X-Api-Key") == API_KEY)

    async def api_key_query(self, request: web.Request) -> web.Response:
        return self.verdict(request.query.get("api_key") == API_KEY)

    async def bearer(self, request: web.Request) -> web.Response:
        return self.verdict(request.headers.get("Authorization") == f"Bearer {BEARER_TOKEN}")

    async def custom(self, request: web.Request) -> web.Response:
        return self.verdict(all(request.headers.get(k) == v for k, v in CUSTOM_HEADERS.items()))

    async def oauth2_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = str(form.get("grant_type"))
        self.grants.append(grant)
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(encoded or "Og==").decode().partition(":")
        if scheme != "Basic" or (unquote_plus(client_id), unquote_plus(secret)) != (
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        if grant == "refresh_token" and form.get("refresh_token") != REFRESH_TOKEN:
            return web.json_response({"error": "invalid_grant"}, status=400)
        client_form = (form.get("scope"), form.get("audience")) == (SCOPE, AUDIENCE)
        if grant == "client_credentials" and not client_form:
            return web.json_response({"error": "invalid_scope"}, status=400)
        if grant not in ("refresh_token", "client_credentials"):
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = secrets.token_urlsafe(24)
        self.issued[token] = self.now() + TOKEN_LIFETIME_S
        body = {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S}
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def oauth2_resource(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return self.verdict(self.issued.get(token, 0) > self.now())

    async def oauth1_resource(self, request: web.Request) -> web.Response:
        return self.oauth1_verdict(request, OAUTH1_TOKEN, OAUTH1_TOKEN_SECRET)

    async def oauth1_two_legged(self, request: web.Request) -> web.Response:
        """A consumer-only request (no token): signed with an empty token secret."""
        return self.oauth1_verdict(request, None, "")

    def oauth1_verdict(
        self, request: web.Request, token: str | None, token_secret: str
    ) -> web.Response:
        header = request.headers.get("Authorization", "")
        params = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
        if not header.startswith("OAuth ") or params.get("oauth_signature_method") != "HMAC-SHA1":
            return self.verdict(False)
        fresh = abs(self.now() - int(params.get("oauth_timestamp", "0"))) <= 300
        nonce = params.get("oauth_nonce", "")
        known = params.get("oauth_consumer_key") == CONSUMER_KEY
        known = known and params.get("oauth_token") == token
        expected = oauth1_signature(request, params, token_secret)
        valid = hmac.compare_digest(expected, params.get("oauth_signature", ""))
        accepted = fresh and known and valid and bool(nonce) and nonce not in self.nonces
        self.nonces.add(nonce)
        return self.verdict(accepted)

    async def jwt(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.presented_jwts.append(token)
        algorithm = request.match_info["algorithm"]
        return self.verdict(verify_jwt(token, algorithm, self.jwt_keys, self.now()))
