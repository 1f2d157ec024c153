"""The signatures connmgr computes itself: OAuth 1 (RFC 5849 vectors) and JWS (RFC 7515/7518)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from yarl import URL

from connmgr.schemas.auth import JwtAuth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_jwt import claims_for, encode_jwt
from connmgr.workers.checks.http_oauth1 import (
    authorization_header,
    base_string_uri,
    percent_encode,
    signature_base_string,
)
from support.secret_scan import SecretScanner


def test_the_signature_base_string_matches_rfc_5849_section_3_4_1_1() -> None:
    url = URL("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
    parameters = [
        *url.query.items(),
        ("c2", ""),
        ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]

    assert signature_base_string("POST", url, parameters) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
        "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
        "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m"
        "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk"
        "9d7dh3k39sjv7"
    )


def test_the_authorization_header_reproduces_the_rfc_5849_section_1_2_request() -> None:
    header = authorization_header(
        "GET",
        URL("http://photos.example.net/photos?file=vacation.jpg&size=original"),
        consumer_key="dpf43f3p2l4k3l03",
        consumer_secret="kd94hf93k423kf44",
        token="nnch734d00sl2jdk",
        token_secret="pfkkdhi9sl3r4s00",
        timestamp=137131202,
        nonce="chapoH",
        version=None,
    )

    assert header == (
        'OAuth oauth_consumer_key="dpf43f3p2l4k3l03", oauth_nonce="chapoH", '
        'oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", '
        'oauth_token="nnch734d00sl2jdk", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"'
    )


def test_the_version_parameter_is_sent_and_signed_by_default() -> None:
    def sign(version: str | None = "1.0") -> str:
        url = URL("https://api.test/r?x=1")
        return authorization_header(
            "GET", url, consumer_key="k", consumer_secret="s", token=None, token_secret="",
            timestamp=1, nonce="n", version=version,
        )  # fmt: skip

    assert 'oauth_version="1.0"' in sign()
    assert sign().split("oauth_signature=")[1] != sign(None).split("oauth_signature=")[1]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://EXAMPLE.com:80/r%20v/X?id=123", "http://example.com/r%20v/X"),
        ("https://www.example.net:8080/?q=1", "https://www.example.net:8080/"),
        ("https://example.com:443", "https://example.com/"),
    ],
)
def test_the_base_string_uri_is_normalised(url: str, expected: str) -> None:
    assert base_string_uri(URL(url)) == expected


def test_percent_encoding_keeps_only_unreserved_characters() -> None:
    assert percent_encode("a b+c/~é*") == "a%20b%2Bc%2F~%C3%A9%2A"


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


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        ("RS256", pem(ec.generate_private_key(ec.SECP256R1()))),
        ("ES256", pem(ec.generate_private_key(ec.SECP384R1()))),
        ("ES256", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
        ("HS256", ""),
    ],
)
def test_a_key_that_cannot_sign_with_the_algorithm_is_a_config_error(
    algorithm: str, key: str
) -> None:
    with pytest.raises(CheckFailed) as failure:
        encode_jwt(algorithm, key, {})

    assert failure.value.outcome is Outcome.CONFIG_ERROR
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
