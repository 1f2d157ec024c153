"""Connection URIs with credentials in them: ``postgres://user:pass@host:5432/db?…``.

Airflow connections and Uptime Kuma database monitors carry their address and
login this way. ``split_uri`` takes one apart: the password comes out as a
``SecretStr`` (the caller turns it into a reference), everything else as plain
text, percent-decoded. A URI naming several hosts or a bad port is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import SecretStr

from .entries import EntryRefused


@dataclass(frozen=True, slots=True)
class UriParts:
    scheme: str
    host: str | None
    port: int | None
    path: str
    """The path without its leading ``/``, percent-decoded (a database, a schema)."""
    query: dict[str, str]
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)


def split_uri(uri: str) -> UriParts:
    """The parts of ``uri``; ``EntryRefused`` if it cannot be one connmgr target."""
    parts = urlsplit(uri.strip())
    if "," in parts.netloc.rpartition("@")[2]:
        raise EntryRefused("the URI names several hosts; connmgr connects to one")
    try:
        port = parts.port
    except ValueError:
        raise EntryRefused("the URI has an invalid port") from None
    password = SecretStr(unquote(parts.password)) if parts.password else None
    return UriParts(
        scheme=parts.scheme.lower(),
        host=unquote(parts.hostname) if parts.hostname else None,
        port=port,
        path=unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path),
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        username=unquote(parts.username) if parts.username else None,
        password=password,
    )


def login(parts: UriParts) -> tuple[dict[str, str], dict[str, SecretStr]]:
    """The auth and secrets of a URI's userinfo: ``basic`` with a password, else none."""
    if parts.password is None:
        if parts.username:
            return {"method": "basic", "username": parts.username}, {}
        return {"method": "none"}, {}
    return {"method": "basic", "username": parts.username or ""}, {"password": parts.password}
