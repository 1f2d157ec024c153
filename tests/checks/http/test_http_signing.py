"""The signatures connmgr makes with oauthlib and PyJWT, checked against the specs.

OAuth 1 (RFC 5849): a known answer from OAuth Core 1.0 Appendix A.5, and base
strings spelled out here, signed independently with HMAC-SHA1. JWS (RFC 7515/7518):
a known HS256 token, and each algorithm's signature verified with ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import warnings
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from yarl import URL

from connmgr.schemas.connection_auth import JwtAuth
from connmgr.workers.checks import http_jwt
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_jwt import claims_for, encode_jwt
from connmgr.workers.checks.http_oauth1 import authorization_header
from support.secret_scan import SecretScanner


def signed_parameters(header: str) -> dict[str, str]:
    """The ``name="value"`` pairs of an ``OAuth`` header, percent-decoded."""
    assert header.startswith("OAuth ")
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}


def hmac_sha1(base_string: str, key: str) -> str:
    """RFC 5849 3.4.2, computed here from a base string the test spells out."""
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign(url: str, method: str = "GET", *, token: str | None = "tk", secrets: str = "s") -> str:
    return authorization_header(
        method, URL(url), consumer_key="ck", consumer_secret=secrets, token=token,
        token_secret="ts", timestamp=137131201, nonce="7d8f3e4a",
    )  # fmt: skip


def test_the_header_reproduces_the_oauth_core_1_0_appendix_a_5_request() -> None:
    header = authorization_header(
        "GET",
        URL("http://photos.example.net/photos?file=vacation.jpg&size=original"),
        consumer_key="dpf43f3p2l4k3l03",
        consumer_secret="kd94hf93k423kf44",
        token="nnch734d00sl2jdk",
        token_secret="pfkkdhi9sl3r4s00",
        timestamp=1191242096,
        nonce="kllo9940pd9333jh",
    )

    assert signed_parameters(header) == {
        "oauth_consumer_key": "dpf43f3p2l4k3l03",
        "oauth_token": "nnch734d00sl2jdk",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1191242096",
        "oauth_nonce": "kllo9940pd9333jh",
        "oauth_version": "1.0",
        "oauth_signature": "tR3+Ty81lMeYAr/Fid0kMTYa/WM=",
    }
    assert 'oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"' in header


PROTOCOL = (
    "oauth_consumer_key%3Dck%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
    "%26oauth_timestamp%3D137131201%26oauth_token%3Dtk%26oauth_version%3D1.0"
)


@pytest.mark.parametrize(
    ("method", "url", "base_string"),
    [
        (
            "GET",
            "HTTP://EXAMPLE.com:80/r%20v/X?id=123",
            f"GET&http%3A%2F%2Fexample.com%2Fr%2520v%2FX&id%3D123%26{PROTOCOL}",
        ),
        (
            "POST",
            "https://www.example.net:8080/?q=1",
            f"POST&https%3A%2F%2Fwww.example.net%3A8080%2F&{PROTOCOL}%26q%3D1",
        ),
        ("get", "https://example.com:443", f"GET&https%3A%2F%2Fexample.com%2F&{PROTOCOL}"),
        (  # RFC 5849 3.6: only ALPHA, DIGIT and -._~ stay as they are; UTF-8 bytes encoded
            "GET",
            "https://a.test/r?v=a%20b%2Bc%2F~%C3%A9%2A&b=%3D%253D&a=x+y",
            "GET&https%3A%2F%2Fa.test%2Fr&a%3Dx%2520y%26b%3D%253D%25253D%26"
            f"{PROTOCOL}%26v%3Da%2520b%252Bc%252F~%25C3%25A9%252A",
        ),
    ],
)
def test_the_signature_covers_the_normalised_method_uri_and_parameters(
    method: str, url: str, base_string: str
) -> None:
    signed = signed_parameters(sign(url, method))

    assert signed["oauth_signature"] == hmac_sha1(base_string, "s&ts")


def test_without_a_token_none_is_sent_and_the_key_ends_with_the_token_secret() -> None:
    signed = signed_parameters(sign("https://a.test/", token=None, secrets="c s"))

    assert "oauth_token" not in signed
    protocol = PROTOCOL.replace("%26oauth_token%3Dtk", "")
    assert signed["oauth_signature"] == hmac_sha1(
        f"GET&https%3A%2F%2Fa.test%2F&{protocol}", "c%20s&ts"
    )


def test_each_header_gets_a_fresh_nonce_unless_one_is_given() -> None:
    def nonce() -> str:
        url = URL("https://a.test/")
        header = authorization_header(
            "GET", url, consumer_key="k", consumer_secret="s", token=None, token_secret="",
            timestamp=1,
        )  # fmt: skip
        return signed_parameters(header)["oauth_nonce"]

    assert len({nonce() for _ in range(5)}) == 5


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_an_hs256_token_verifies_with_the_shared_secret() -> None:
    token = encode_jwt("HS256", "shared", {"sub": "x"})
    header, claims, signature = token.split(".")

    expected = hmac.new(b"shared", f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert b64url_decode(signature) == expected
    assert json.loads(b64url_decode(header)) == {"alg": "HS256", "typ": "JWT"}
    assert "=" not in token


def test_an_rs256_token_verifies_with_the_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header, claims, signature = encode_jwt("RS256", pem(key), {"sub": "x"}).split(".")

    key.public_key().verify(
        b64url_decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_an_es256_token_carries_a_raw_64_byte_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    header, claims, signature = encode_jwt("ES256", pem(key), {"sub": "x"}).split(".")
    raw = b64url_decode(signature)

    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))


def test_an_hs256_token_has_a_known_form() -> None:
    token = encode_jwt("HS256", "a-32-byte-shared-secret-for-jws!", {"sub": "x", "iat": 1})

    assert token == (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4IiwiaWF0IjoxfQ."
        "fdwOa44c4cXtZoxfnGztdolH-mfsTQTYF-R9X4HeVd8"
    )


def test_a_short_hs256_secret_signs_without_a_library_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        token = encode_jwt("HS256", "short", {"sub": "x"})

    assert token.count(".") == 2


def rsa_public_pem() -> str:
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def encrypted_ec_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        ("RS256", pem(ec.generate_private_key(ec.SECP256R1()))),
        ("ES256", pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))),
        ("ES256", pem(ec.generate_private_key(ec.SECP384R1()))),
        ("ES256", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
        ("RS256", rsa_public_pem()),
        ("ES256", encrypted_ec_pem()),
        ("HS256", pem(ec.generate_private_key(ec.SECP256R1()))),  # algorithm confusion
        ("HS256", ""),
    ],
    ids=[
        "rs256-ec-key", "es256-rsa-key", "es256-p384-key", "es256-not-a-key",
        "rs256-public-key", "es256-encrypted-key", "hs256-pem-key", "hs256-empty",
    ],
)  # fmt: skip
def test_a_key_that_cannot_sign_with_the_algorithm_is_a_config_error(
    algorithm: str, key: str
) -> None:
    with pytest.raises(CheckFailed) as failure:
        encode_jwt(algorithm, key, {})

    assert failure.value.outcome is Outcome.CONFIG_ERROR
    assert failure.value.detail == "the signing key cannot sign with the configured algorithm"
    if key:  # the empty key has nothing to leak
        scanner = SecretScanner()
        if "not a key" in key:  # its body's words are too short to search as PEM lines
            scanner.add("key body", "not a key")
        else:
            scanner.add_pem("signing key", key)
        error = failure.value
        scanner.assert_clean({"error": f"{error} {error!r} {error.detail}"})


def test_claims_hold_the_configured_ones_under_the_standard_ones() -> None:
    auth = JwtAuth(
        issuer="connmgr", audience="api", ttl_s=60, claims={"iss": "spoofed", "tenant": "t1"}
    )

    claims = claims_for(auth, now=1_000.9)

    assert claims["iss"] == "connmgr"
    assert (claims["aud"], claims["iat"], claims["exp"], claims["tenant"]) == (
        "api",
        1000,
        1060,
        "t1",
    )
    assert "sub" not in claims
    assert len(claims["jti"]) == 32


def test_the_subject_is_a_standard_claim_over_a_configured_one() -> None:
    auth = JwtAuth(subject="svc-7", claims={"sub": "spoofed", "scope": "read"})

    claims = claims_for(auth, now=50.0)

    assert {name: value for name, value in claims.items() if name != "jti"} == {
        "sub": "svc-7",
        "scope": "read",
        "iat": 50,
        "exp": 350,  # the default ttl_s, 300
    }


def test_only_the_short_key_warning_is_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    real_encode = http_jwt.jwt.encode

    def encode_with_a_deprecation(*args: Any, **kwargs: Any) -> str:
        warnings.warn("a PyJWT deprecation", DeprecationWarning, stacklevel=2)
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(http_jwt.jwt, "encode", encode_with_a_deprecation)

    with pytest.warns(DeprecationWarning, match="a PyJWT deprecation"):
        encode_jwt("HS256", "short", {"sub": "x"})
