"""What a check may record about a server: values from fixed lists, never the server's text.

A target can put anything in a banner, a header, a version string or a
certificate, including the credentials it was just sent. So a
``ServerIdentity`` holds only:

- ``version``: a version number (``version_number``: the leading
  ``^\\d{1,5}(\\.\\d{1,5}){0,3}`` of the reported string, and nothing after it),
  or a product name from a fixed list, optionally with such a number
  (``http_server_product``: ``nginx/1.25.3``; the mail checks' own lists);
- ``tls_subject``: the host name the certificate was verified for — the
  configured ``server_name`` or host, never a name read from the certificate —
  and only when the handshake checked the name;
- ``tls_issuer``: ``sha256:`` and the hex SHA-256 of the issuer's DER-encoded
  name: it changes when the issuing CA changes, and no text can be read back
  from it;
- ``tls_not_after``: the verified certificate's expiry, a timestamp.

A certificate is reported only when it was verified (TLS with ``verify``
off reports none).
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Iterable
from datetime import UTC
from typing import Final

from cryptography import x509

from connmgr.workers.checks.base import ServerIdentity

_VERSION: Final = re.compile(r"(\d{1,5}(?:\.\d{1,5}){0,3})(?![\d.]*\d)")
# Product tokens of common HTTP and object-storage servers, spelled as they send them.
HTTP_SERVER_PRODUCTS: Final = (
    "nginx", "openresty", "Apache", "Microsoft-IIS", "Microsoft-HTTPAPI", "Kestrel",
    "cloudflare", "envoy", "istio-envoy", "Caddy", "HAProxy", "Varnish", "Tengine",
    "LiteSpeed", "lighttpd", "Jetty", "gunicorn", "uvicorn", "hypercorn", "Werkzeug",
    "aiohttp", "Python", "TwistedWeb", "Express", "gws", "GFE", "ESF", "AkamaiGHost",
    "AmazonS3", "MinIO", "Ceph", "SeaweedFS", "Garage", "UploadServer", "Vercel",
    "Netlify", "GitHub.com", "awselb",
)  # fmt: skip
_KNOWN: Final = {name.lower(): name for name in HTTP_SERVER_PRODUCTS}


def version_number(reported: object) -> str | None:
    """The version number a reported version string starts with, else None.

    ``"16.4 (Debian 16.4-1.pgdg120+1)"`` gives ``"16.4"``,
    ``"10.11.6-MariaDB-0+deb12u1"`` gives ``"10.11.6"``; a string that does not
    start with such a number (or has a fifth part) gives None.
    """
    if not isinstance(reported, str):
        return None
    match = _VERSION.match(reported.strip())
    return match.group(1) if match else None


def http_server_product(header: str | None, *, with_version: bool = True) -> str | None:
    """The first product of a ``Server`` header that is on the fixed list, as the list
    spells it, with its version number when it has one (``with_version``)."""
    for token in (header or "").split():
        name, _, version = token.partition("/")
        product = _KNOWN.get(name.lower())
        if product is not None:
            number = version_number(version) if with_version else None
            return f"{product}/{number}" if number else product
    return None


def known_product(banner: str, products: Iterable[str]) -> str | None:
    """The first name of ``products`` that the banner mentions, as spelled in the list."""
    lowered = banner.lower()
    return next((name for name in products if name.lower() in lowered), None)


def certificate_identity(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> ServerIdentity | None:
    """The fixed-form identity of a *verified* peer certificate, else None."""
    if ssl_object is None or not ssl_object.getpeercert():
        return None  # no TLS, or verification off: the certificate proved nothing
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    certificate = x509.load_der_x509_certificate(der)
    verified_name = ssl_object.server_hostname if ssl_object.context.check_hostname else None
    issuer = hashlib.sha256(certificate.issuer.public_bytes()).hexdigest()
    return ServerIdentity(
        tls_subject=verified_name,
        tls_issuer=f"sha256:{issuer}",
        tls_not_after=certificate.not_valid_after_utc.astimezone(UTC),
    )


def stream_identity(stream: object) -> ServerIdentity | None:
    """``certificate_identity`` of a transport or stream writer (its ``ssl_object``)."""
    get_extra_info = getattr(stream, "get_extra_info", None)
    ssl_object = get_extra_info("ssl_object") if callable(get_extra_info) else None
    if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return certificate_identity(ssl_object)
    return None
