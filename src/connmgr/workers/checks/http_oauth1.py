"""OAuth 1.0 request signing with HMAC-SHA1 (RFC 5849, section 3).

The signature covers the method, the base string URI (scheme and host in
lower case, the port only when not the default, the path) and the normalised
parameters: the query string's and the ``oauth_*`` protocol parameters (a
form-encoded body would count too; the checks send none). The key is the
percent-encoded consumer secret and token secret joined by ``&``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import quote

from yarl import URL

_DEFAULT_PORTS = {"http": 80, "https": 443}


def percent_encode(value: str) -> str:
    """RFC 5849 3.6: UTF-8, then every byte but ALPHA, DIGIT, ``-._~`` as ``%XX``."""
    return quote(value, safe="-._~")


def base_string_uri(url: URL) -> str:
    """RFC 5849 3.4.1.2, from the URL as sent (its encoded path)."""
    scheme = (url.scheme or "").lower()
    host = (url.raw_host or "").lower()
    port = url.explicit_port
    authority = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{authority}{url.raw_path or '/'}"


def normalised_parameters(parameters: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 3.4.1.3.2: encode each name and value, sort, join with ``=`` and ``&``."""
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in parameters)
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(method: str, url: URL, parameters: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 3.4.1: ``parameters`` are every signed pair except ``oauth_signature``."""
    return "&".join(
        percent_encode(part)
        for part in (method.upper(), base_string_uri(url), normalised_parameters(parameters))
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 3.4.2: base64 of HMAC-SHA1 keyed with the two encoded secrets."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def authorization_header(
    method: str,
    url: URL,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str | None,
    token_secret: str,
    timestamp: int,
    nonce: str | None = None,
    version: str | None = "1.0",
) -> str:
    """The ``Authorization: OAuth ...`` value signing a request with no body parameters.

    ``oauth_version`` is optional in RFC 5849; it is sent by default because
    some providers still require it.
    """
    protocol = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp),
    }
    if version is not None:
        protocol["oauth_version"] = version
    if token is not None:
        protocol["oauth_token"] = token
    signed = [*url.query.items(), *protocol.items()]
    base_string = signature_base_string(method, url, signed)
    protocol["oauth_signature"] = hmac_sha1_signature(base_string, consumer_secret, token_secret)
    fields = ", ".join(f'{percent_encode(k)}="{percent_encode(v)}"' for k, v in protocol.items())
    return f"OAuth {fields}"
