"""An HTTP target of any peer as an ``http`` connection: URL, method, headers, login.

``http_parts`` splits a monitored URL into ``base_url`` (scheme, host, port) and
``test.path`` (path and query), and sorts the headers: a header whose name says
it carries a credential (``Authorization``, ``X-API-Key``, a name with ``token``,
``secret``, ``key``, ``auth``, ``password``, ``session``, ``cookie`` or
``signature``) becomes auth and a secret, never config:

- ``Authorization: Bearer …`` becomes ``bearer`` (secret ``token``);
- ``Authorization: Basic …`` becomes ``basic`` (username, secret ``password``);
- any other credential header becomes ``custom_headers`` (one secret per header).

Credentials in the URL itself (``https://user:pass@host``) become ``basic``. Two
sources of credentials for one entry (a URL login and an ``Authorization``
header) cannot both be kept: connmgr uses one auth method, so the entry is
refused (``docs/importers.md``, "Secrets").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from .entries import EntryRefused

SECRET_HEADER_WORDS: Final = (
    *("authorization", "token", "secret", "key", "auth", "password"),
    *("session", "cookie", "signature"),
)
HTTP_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class HttpParts:
    config: dict[str, Any]
    auth: dict[str, Any]
    secrets: dict[str, SecretStr] = field(repr=False)


def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_HEADER_WORDS)


def http_parts(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str],
    notes: list[str],
    username: str | None = None,
    password: SecretStr | None = None,
) -> HttpParts:
    """The ``http`` config, auth and secrets of one monitored URL; ``username`` and
    ``password`` are a login given beside it (an Airflow connection's)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise EntryRefused("the URL is not http or https")
    if not parts.hostname:
        raise EntryRefused("the URL names no host")
    host_port = parts.netloc.rpartition("@")[2]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.fragment:
        notes.append("dropped the URL's fragment: a server never receives it")
    verb = method.upper()
    if verb not in HTTP_METHODS:
        raise EntryRefused("the HTTP method is not one connmgr sends")
    plain = {name: value for name, value in headers.items() if not is_secret_header(name)}
    secret = {name: value for name, value in headers.items() if is_secret_header(name)}
    logins = [_url_login(parts.username, parts.password)] if parts.username else []
    if username:
        logins.append(({"method": "basic", "username": username}, _password(password)))
    if secret:
        logins.append(_header_login(secret))
    if len(logins) > 1:
        raise EntryRefused("credentials both in the URL and in headers; connmgr keeps one auth")
    auth, secrets = logins[0] if logins else ({"method": "none"}, {})
    config: dict[str, Any] = {
        "base_url": f"{parts.scheme.lower()}://{host_port}",
        "test": {"method": verb, "path": path},
    }
    if plain:
        config["headers"] = plain
    return HttpParts(config, auth, secrets)


def _password(password: SecretStr | None) -> dict[str, SecretStr]:
    return {"password": password} if password is not None else {}


def _url_login(
    username: str | None, password: str | None
) -> tuple[dict[str, Any], dict[str, SecretStr]]:
    secrets = {"password": SecretStr(password)} if password else {}
    return {"method": "basic", "username": username}, secrets


def _header_login(secret: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, SecretStr]]:
    names = {name.lower(): name for name in secret}
    if set(names) == {"authorization"}:
        scheme, _, credential = secret[names["authorization"]].strip().partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return {"method": "bearer"}, {"token": SecretStr(credential.strip())}
        if scheme.lower() == "basic" and credential.strip():
            return _basic_header(credential.strip())
    header_names = sorted(secret)
    secrets = {name: SecretStr(secret[name]) for name in header_names}
    return {"method": "custom_headers", "header_names": header_names}, secrets


def _basic_header(credential: str) -> tuple[dict[str, Any], dict[str, SecretStr]]:
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise EntryRefused("the Authorization header's Basic credentials do not decode") from None
    username, separator, password = decoded.partition(":")
    if not separator:
        raise EntryRefused("the Authorization header's Basic credentials have no password")
    return {"method": "basic", "username": username}, {"password": SecretStr(password)}
