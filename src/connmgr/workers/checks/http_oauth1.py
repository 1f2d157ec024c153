"""OAuth 1.0 request signing with HMAC-SHA1 (RFC 5849, section 3), by oauthlib.

The signature covers the method, the base string URI (scheme and host in lower
case, the port only when not the default, the path as sent) and the normalised
parameters: the query string's and the ``oauth_*`` protocol parameters. The
checks sign no body (a form body would count; a JSON one never does). The key
is the percent-encoded consumer secret and token secret joined by ``&``.
``oauth_version="1.0"``, optional in RFC 5849, is always sent and signed: some
providers still require it. oauthlib's debug lines (base string, signature)
hold no secret, and library loggers stay at WARNING (``runtime/logging.py``).
"""

from __future__ import annotations

from oauthlib import oauth1
from yarl import URL


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
) -> str:
    """The ``Authorization: OAuth ...`` value signing a request with no body parameters.

    ``nonce`` is random unless given (known-answer tests give one)."""
    client = oauth1.Client(
        consumer_key,
        client_secret=consumer_secret,
        resource_owner_key=token,
        resource_owner_secret=token_secret,
        timestamp=str(timestamp),
        nonce=nonce,
    )
    # The stubs type the method as a Literal of names; a check's method is one of them.
    signed_headers: dict[str, str] = client.sign(str(url), method)[1]  # type: ignore[arg-type]
    return signed_headers["Authorization"]
